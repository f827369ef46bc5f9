package console

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/suanli/suanli/internal/core"
)

// loginData is the login page's data.
type loginData struct {
	Next  string
	Error string // catalog key, empty when there is nothing to say
}

func (c *Console) loginForm(w http.ResponseWriter, r *http.Request) {
	L := c.language(w, r)
	next := r.URL.Query().Get("next")
	if !safeLocal(next) {
		next = ""
	}
	w.Header().Set("Cache-Control", "no-store")
	c.render(w, http.StatusOK, "login", c.base(r, L, nil, "", L.T("login.title")), loginData{Next: next})
}

// login checks the posted token with Authenticate and keeps it in an
// HttpOnly, SameSite=Strict cookie.
func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	L := c.language(w, r)
	r.Body = http.MaxBytesReader(w, r.Body, formBytesMax)
	if err := r.ParseForm(); err != nil {
		c.render(w, http.StatusBadRequest, "login", c.base(r, L, nil, "", L.T("login.title")), loginData{Error: "login.bad_form"})
		return
	}
	token := strings.TrimSpace(r.PostForm.Get("token"))
	next := r.PostForm.Get("next")
	if !safeLocal(next) || strings.HasPrefix(next, "/login") {
		next = "/"
	}
	fail := func(status int, key string) {
		c.render(w, status, "login", c.base(r, L, nil, "", L.T("login.title")), loginData{Next: next, Error: key})
	}
	if token == "" || len(token) > tokenLenMax {
		fail(http.StatusUnauthorized, "login.bad_token")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), authTimeout)
	defer cancel()
	p, err := c.src.Authenticate(ctx, token)
	switch {
	case core.ErrorCode(err) == core.EUnauthorized || err == nil && !p.Role.Valid():
		fail(http.StatusUnauthorized, "login.bad_token")
		return
	case err != nil:
		c.log.Error("console: authenticate failed", "err", err)
		fail(http.StatusInternalServerError, "error.internal")
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: cookieToken, Value: token, Path: "/", MaxAge: tokenCookieMaxAge,
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode,
	})
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request) {
	clearTokenCookie(w, r)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

func clearTokenCookie(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{
		Name: cookieToken, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode,
	})
}

// language picks the page language: ?lang= (which also sets the lang
// cookie), then the cookie, then Accept-Language.
func (c *Console) language(w http.ResponseWriter, r *http.Request) *catalog {
	if l := r.URL.Query().Get("lang"); l == "zh" || l == "en" {
		http.SetCookie(w, &http.Cookie{
			Name: cookieLang, Value: l, Path: "/", MaxAge: langCookieMaxAge,
			Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode,
		})
		return catalogs[l]
	}
	if ck, err := r.Cookie(cookieLang); err == nil && (ck.Value == "zh" || ck.Value == "en") {
		return catalogs[ck.Value]
	}
	return catalogs[acceptLanguage(r.Header.Get("Accept-Language"))]
}

// acceptLanguage returns "zh" when the most preferred language of an
// Accept-Language header is Chinese, else "en".
func acceptLanguage(h string) string {
	best, bestQ := "en", -1.0
	for i, part := range strings.Split(h, ",") {
		if i >= 32 { // bound the work on a hostile header
			break
		}
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || f < 0 || f > 1 {
				continue
			}
			q = f
		}
		if tag == "" || q <= bestQ {
			continue
		}
		bestQ = q
		if t := strings.ToLower(tag); t == "zh" || strings.HasPrefix(t, "zh-") {
			best = "zh"
		} else {
			best = "en"
		}
	}
	return best
}

// langURL is the current page's URL with lang set.
func langURL(r *http.Request, lang string) string {
	q := r.URL.Query()
	q.Set("lang", lang)
	path := r.URL.Path
	if !safeLocal(path) || r.Method != http.MethodGet {
		path = "/"
		q = url.Values{"lang": {lang}}
	}
	if strings.HasSuffix(path, "/live") || strings.HasSuffix(path, "/cancel") {
		path = strings.TrimSuffix(strings.TrimSuffix(path, "/live"), "/cancel")
	}
	return path + "?" + q.Encode()
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }

func itoa(n int) string { return strconv.Itoa(n) }
