package console

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"

	"github.com/suanli/suanli/internal/core"
	"github.com/suanli/suanli/internal/store"
)

// idLenMax bounds IDs taken from URLs and query parameters; longer ones
// cannot exist and are answered without a store lookup.
const idLenMax = 128

func (c *Console) centers(w http.ResponseWriter, rq *request) error {
	rows, err := c.centerRows(rq.Context())
	if err != nil {
		return err
	}
	c.render(w, http.StatusOK, "centers", rq.base(c, "centers", rq.L.T("centers.title")), rows)
	return nil
}

// jobRow is one line of the jobs table.
type jobRow struct {
	J        core.Job
	Center   *core.Center
	Accel    string
	Duration string
}

// pager is the position in a paged list.
type pager struct {
	Offset, Total, From, To int
	PrevURL, NextURL        string
}

func newPager(r *http.Request, path string, offset, size, n, total int) pager {
	p := pager{Offset: offset, Total: total}
	if n > 0 {
		p.From, p.To = offset+1, offset+n
	}
	link := func(off int) string {
		q := r.URL.Query()
		q.Del("lang")
		q.Set("offset", strconv.Itoa(off))
		if off == 0 {
			q.Del("offset")
		}
		if len(q) == 0 {
			return path
		}
		return path + "?" + q.Encode()
	}
	if offset > 0 {
		p.PrevURL = link(max(offset-size, 0))
	}
	if offset+n < total && n > 0 {
		p.NextURL = link(offset + size)
	}
	return p
}

type jobsData struct {
	Rows    []jobRow
	States  []core.JobState
	Centers []core.Center // for the center filter
	State   core.JobState
	Center  string
	Page    pager
}

// parseOffset reads ?offset=; anything unusable means the first page.
func parseOffset(q url.Values) int {
	n, err := strconv.Atoi(q.Get("offset"))
	if err != nil || n < 0 {
		return 0
	}
	return min(n, offsetMax)
}

func (c *Console) jobs(w http.ResponseWriter, rq *request) error {
	ctx := rq.Context()
	q := rq.URL.Query()
	f := store.JobFilter{State: core.JobState(q.Get("state")), CenterID: q.Get("center"), Limit: jobsPageSize, Offset: parseOffset(q)}
	if f.State != "" && !f.State.Valid() {
		return core.FieldErrorf("state", "%s", rq.L.T("jobs.bad_state"))
	}
	if len(f.CenterID) > idLenMax {
		return core.FieldErrorf("center", "too long")
	}
	switch rq.P.Role {
	case core.RoleTenant:
		f.TenantOrgID = rq.P.OrgID
	case core.RoleProvider:
		f.ProviderOrgID = rq.P.OrgID
	}
	centers, err := c.src.Centers(ctx)
	if err != nil {
		return err
	}
	byID := make(map[string]*core.Center, len(centers))
	d := jobsData{States: core.JobStates, State: f.State, Center: f.CenterID}
	for i := range centers {
		byID[centers[i].ID] = &centers[i]
		if rq.P.Role != core.RoleProvider || centers[i].ProviderOrgID == rq.P.OrgID {
			d.Centers = append(d.Centers, centers[i])
		}
	}
	jobs, total, err := c.src.Jobs(ctx, f)
	if err != nil {
		return err
	}
	now := c.now()
	for _, j := range jobs {
		d.Rows = append(d.Rows, jobRow{J: j, Center: byID[j.CenterID], Accel: jobAccel(j), Duration: jobDuration(j, now)})
	}
	d.Page = newPager(rq.Request, "/jobs", f.Offset, jobsPageSize, len(jobs), total)
	pd := rq.base(c, "jobs", rq.L.T("jobs.title"))
	if isFragment(rq.Request, "jobs-table") {
		c.renderFragment(w, http.StatusOK, "jobs", "jobs-table", pd, d)
		return nil
	}
	c.render(w, http.StatusOK, "jobs", pd, d)
	return nil
}

// isFragment reports whether an htmx request asks for the element target
// only. A history restore wants the whole page.
func isFragment(r *http.Request, target string) bool {
	return r.Header.Get("HX-Request") == "true" && r.Header.Get("HX-History-Restore-Request") != "true" &&
		r.Header.Get("HX-Target") == target
}

// visibleJob returns the job if the principal may see it: a tenant its own
// jobs, a provider jobs placed on its centers, the operator all. Anything
// else is ENotFound, so IDs of other tenants' jobs do not leak.
func (c *Console) visibleJob(ctx context.Context, p core.Principal, id string) (core.Job, *core.Center, error) {
	notFound := core.Errorf(core.ENotFound, "job not found")
	if id == "" || len(id) > idLenMax {
		return core.Job{}, nil, notFound
	}
	j, err := c.src.Job(ctx, id)
	if err != nil {
		return core.Job{}, nil, err
	}
	var center *core.Center
	if j.CenterID != "" {
		centers, err := c.src.Centers(ctx)
		if err != nil {
			return core.Job{}, nil, err
		}
		for i := range centers {
			if centers[i].ID == j.CenterID {
				center = &centers[i]
			}
		}
	}
	switch p.Role {
	case core.RoleOperator:
	case core.RoleTenant:
		if j.TenantOrgID != p.OrgID {
			return core.Job{}, nil, notFound
		}
	case core.RoleProvider:
		if center == nil || center.ProviderOrgID != p.OrgID {
			return core.Job{}, nil, notFound
		}
	default:
		return core.Job{}, nil, notFound
	}
	return j, center, nil
}

// jobData is the job page's data.
type jobData struct {
	J         core.Job
	Center    *core.Center
	Tenant    string
	Duration  string
	Events    []core.Event
	Logs      string
	LogsCut   bool
	LogsKiB   int
	CanCancel bool
	Notice    string // catalog key of a message after an action
}

func (c *Console) jobData(ctx context.Context, rq *request, id string) (jobData, error) {
	j, center, err := c.visibleJob(ctx, rq.P, id)
	if err != nil {
		return jobData{}, err
	}
	d := jobData{J: j, Center: center, Tenant: j.TenantOrgID, Duration: jobDuration(j, c.now()), LogsKiB: logBytesMax >> 10}
	if o, err := c.src.Org(ctx, j.TenantOrgID); err == nil && o.Name != "" {
		d.Tenant = o.Name
	}
	if d.Events, err = c.src.Events(ctx, j.ID); err != nil {
		return jobData{}, err
	}
	logs, err := c.src.JobLogs(ctx, j.ID)
	if err != nil && core.ErrorCode(err) != core.ENotFound {
		return jobData{}, err
	}
	d.Logs, d.LogsCut = tailUTF8(logs, logBytesMax)
	d.CanCancel = !j.State.Terminal() && canCancel(rq.P, j)
	return d, nil
}

// canCancel reports whether p may cancel j: its tenant or the operator.
func canCancel(p core.Principal, j core.Job) bool {
	return p.Role == core.RoleOperator || p.Role == core.RoleTenant && p.OrgID == j.TenantOrgID
}

func (c *Console) job(w http.ResponseWriter, rq *request) error {
	d, err := c.jobData(rq.Context(), rq, rq.PathValue("id"))
	if err != nil {
		return err
	}
	c.render(w, http.StatusOK, "job", rq.base(c, "jobs", rq.L.F("job.title", d.J.ID)), d)
	return nil
}

// jobLive is the auto-refreshing part of the job page.
func (c *Console) jobLive(w http.ResponseWriter, rq *request) error {
	d, err := c.jobData(rq.Context(), rq, rq.PathValue("id"))
	if err != nil {
		return err
	}
	c.renderFragment(w, http.StatusOK, "job", "job-live", rq.base(c, "jobs", ""), d)
	return nil
}

// cancel cancels a job. htmx gets the refreshed live fragment; a plain
// form post is redirected back to the job page.
func (c *Console) cancel(w http.ResponseWriter, rq *request) error {
	ctx := rq.Context()
	id := rq.PathValue("id")
	j, _, err := c.visibleJob(ctx, rq.P, id)
	if err != nil {
		return err
	}
	if !canCancel(rq.P, j) {
		return core.Errorf(core.EForbidden, "only the job's tenant or the operator may cancel it")
	}
	notice := ""
	if !j.State.Terminal() {
		ended, err := c.src.CancelJob(ctx, j.ID)
		var ce *core.Error
		switch {
		case errors.As(err, &ce) && ce.Code == core.EConflict:
			// It ended meanwhile; the refreshed fragment shows how.
		case err != nil:
			return err
		case !ended:
			notice = "job.cancel_asked"
		}
	}
	if rq.Header.Get("HX-Request") != "true" {
		http.Redirect(w, rq.Request, "/jobs/"+url.PathEscape(j.ID), http.StatusSeeOther)
		return nil
	}
	d, err := c.jobData(ctx, rq, j.ID)
	if err != nil {
		return err
	}
	d.Notice = notice
	c.renderFragment(w, http.StatusOK, "job", "job-live", rq.base(c, "jobs", ""), d)
	return nil
}
