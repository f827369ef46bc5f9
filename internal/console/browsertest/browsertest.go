// Package browsertest drives the suanli console in headless Chromium
// (Debian's /usr/bin/chromium through chromedp). Tests of the console and of
// the real server share it.
package browsertest

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// ChromiumPath is Debian's Chromium (apt-get install -y chromium).
const ChromiumPath = "/usr/bin/chromium"

// SkipUnlessBrowser skips t when Chromium is missing, unless CI is set:
// under CI a missing browser is a failure, not a skip.
func SkipUnlessBrowser(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(ChromiumPath); err != nil {
		if os.Getenv("CI") == "" {
			t.Skipf("%s not found and CI is unset: %v", ChromiumPath, err)
		}
		t.Fatalf("CI is set but %s is missing: %v", ChromiumPath, err)
	}
}

// Check signs in to the console at baseURL with token in headless
// Chromium, checks that the overview lists wantCenters and renders its
// capacity chart, then switches to Chinese and back to English.
func Check(t *testing.T, baseURL, token string, wantCenters []string) {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(ChromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()
	ctx, cancel := context.WithTimeout(bctx, 90*time.Second)
	defer cancel()

	step := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("browser: %s: %v", what, err)
		}
	}
	bodyText := func() string {
		t.Helper()
		// A navigation that has just finished can still replace the body
		// node under the query ("No node with given id"); ask again.
		var err error
		for attempt := 0; attempt < 20; attempt++ {
			var s string
			if s, err = chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body"))); err == nil {
				return s
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("browser: read body text: %v", err)
		return ""
	}

	step("open the login page",
		chromedp.Navigate(strings.TrimSuffix(baseURL, "/")+"/login"),
		chromedp.WaitVisible(chromedp.ID("token")),
	)
	step("sign in",
		chromedp.SendKeys(chromedp.ID("token"), token),
		chromedp.Click(chromedp.ID("login-submit")),
		chromedp.WaitVisible(chromedp.ID("overview")),
	)
	text := bodyText()
	for _, name := range wantCenters {
		if !strings.Contains(text, name) {
			t.Errorf("browser: overview does not show center %q", name)
		}
	}

	// ECharts draws the capacity chart (SVG renderer) after the page loads.
	step("wait for the capacity chart", chromedp.WaitReady(chromedp.CSS("#chart-capacity svg")))
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](
		`document.querySelectorAll('#chart-capacity svg, #chart-capacity canvas').length`))
	if err != nil || n == 0 {
		t.Errorf("browser: capacity chart not rendered: %d elements, err %v", n, err)
	}
	bars, err := chromedp.Run(ctx, chromedp.Evaluate[int](
		`document.querySelectorAll('#chart-capacity svg path').length`))
	if err != nil || bars == 0 {
		t.Errorf("browser: capacity chart has no shapes: %d paths, err %v", bars, err)
	}

	step("switch to Chinese",
		chromedp.Click(chromedp.ID("lang-zh")),
		chromedp.WaitReady(chromedp.CSS(`html[lang="zh-CN"] #overview`)),
	)
	if text := bodyText(); !strings.Contains(text, "智算") || !strings.Contains(text, "总览") {
		t.Errorf("browser: Chinese page lacks 智算 or 总览:\n%.1500s", text)
	}
	step("switch to English",
		chromedp.Click(chromedp.ID("lang-en")),
		chromedp.WaitReady(chromedp.CSS(`html[lang="en"] #overview`)),
	)
	if text := bodyText(); !strings.Contains(text, "AI") || !strings.Contains(text, "Overview") || strings.Contains(text, "总览") {
		t.Errorf("browser: English page lacks AI or Overview, or still shows 总览:\n%.1500s", text)
	}
	step("chart renders again", chromedp.WaitReady(chromedp.CSS("#chart-capacity svg")))
}
