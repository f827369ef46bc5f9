// Package client is a small Go client for suanli's REST API, used by the
// CLI, the tests and (later) the agent.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/suanli/suanli/internal/api"
	"github.com/suanli/suanli/internal/core"
	"github.com/suanli/suanli/internal/ledger"
)

// responseBytesMax bounds what the client reads from one response.
const responseBytesMax = 64 << 20

// Client talks to a suanli server, or to any of several replicas, with one
// token.
type Client struct {
	Server string // base URL, e.g. http://127.0.0.1:8080 (the first of Servers)
	// Servers are the replicas' base URLs; a request that cannot reach one
	// goes to the next.
	Servers []string
	Token   string
	HTTP    *http.Client

	mu   sync.Mutex
	good int // index of the replica that last answered
}

// New returns a client with a 30 s request timeout. server may list several
// replicas separated by commas.
func New(server, token string) *Client {
	var servers []string
	for _, s := range strings.Split(server, ",") {
		if s = strings.TrimRight(strings.TrimSpace(s), "/"); s != "" {
			servers = append(servers, s)
		}
	}
	if len(servers) == 0 {
		servers = []string{""}
	}
	return &Client{Server: servers[0], Servers: servers, Token: token, HTTP: &http.Client{Timeout: 30 * time.Second}}
}

// Error is an API error response.
type Error struct {
	Status  int    `json:"status"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

func (e *Error) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("HTTP %d", e.Status)
	}
	return fmt.Sprintf("%s (%s, HTTP %d)", e.Message, e.Code, e.Status)
}

// Do sends one API request: in is the JSON body (nil for none) and out
// receives the JSON response (nil to ignore it).
func (c *Client) Do(ctx context.Context, method, path string, in, out any) error {
	return c.do(ctx, method, path, in, out)
}

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var raw []byte
	if in != nil {
		var err error
		if raw, err = json.Marshal(in); err != nil {
			return err
		}
	}
	servers := c.Servers
	if len(servers) == 0 {
		servers = []string{c.Server}
	}
	c.mu.Lock()
	first := c.good
	c.mu.Unlock()
	var err error
	for i := range servers {
		k := (first + i) % len(servers)
		err = c.once(ctx, servers[k], method, path, raw, in != nil, out)
		if !failover(err, method) || ctx.Err() != nil {
			c.mu.Lock()
			c.good = k
			c.mu.Unlock()
			return err
		}
	}
	return err
}

// failover reports whether a request that failed with err may go to the
// next replica: it never reached this one (connection refused, no route),
// or it only reads.
func failover(err error, method string) bool {
	if err == nil {
		return false
	}
	var ae *Error
	if errors.As(err, &ae) {
		return false // the replica answered
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	return method == http.MethodGet
}

func (c *Client) once(ctx context.Context, server, method, path string, raw []byte, hasBody bool, out any) error {
	var body io.Reader
	if hasBody {
		body = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, server+path, body)
	if err != nil {
		return err
	}
	if hasBody {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err = io.ReadAll(io.LimitReader(resp.Body, responseBytesMax))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 400 {
		e := &Error{}
		if json.Unmarshal(raw, e) != nil || e.Code == "" {
			e.Message = strings.TrimSpace(string(raw))
		}
		e.Status = resp.StatusCode
		return e
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("decode %s %s: %w", method, path, err)
	}
	return nil
}

// Centers lists centers.
func (c *Client) Centers(ctx context.Context) ([]api.CenterView, error) {
	var out struct{ Centers []api.CenterView }
	return out.Centers, c.do(ctx, http.MethodGet, "/api/v1/centers", nil, &out)
}

// Submit submits a job.
func (c *Client) Submit(ctx context.Context, req api.JobRequest) (api.JobView, error) {
	var out api.JobView
	return out, c.do(ctx, http.MethodPost, "/api/v1/jobs", req, &out)
}

// Job gets a job.
func (c *Client) Job(ctx context.Context, id string) (api.JobView, error) {
	var out api.JobView
	return out, c.do(ctx, http.MethodGet, "/api/v1/jobs/"+url.PathEscape(id), nil, &out)
}

// JobsFilter selects jobs.
type JobsFilter struct {
	State, Center string
	Limit, Offset int
}

// Jobs lists jobs.
func (c *Client) Jobs(ctx context.Context, f JobsFilter) ([]api.JobView, int, error) {
	q := url.Values{}
	if f.State != "" {
		q.Set("state", f.State)
	}
	if f.Center != "" {
		q.Set("center", f.Center)
	}
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	if f.Offset > 0 {
		q.Set("offset", strconv.Itoa(f.Offset))
	}
	var out struct {
		Jobs  []api.JobView
		Total int
	}
	err := c.do(ctx, http.MethodGet, "/api/v1/jobs?"+q.Encode(), nil, &out)
	return out.Jobs, out.Total, err
}

// Events gets a job's events.
func (c *Client) Events(ctx context.Context, id string) ([]core.Event, error) {
	var out struct{ Events []core.Event }
	return out.Events, c.do(ctx, http.MethodGet, "/api/v1/jobs/"+url.PathEscape(id)+"/events", nil, &out)
}

// Logs gets a job's logs.
func (c *Client) Logs(ctx context.Context, id string) (string, error) {
	var out struct{ Logs string }
	return out.Logs, c.do(ctx, http.MethodGet, "/api/v1/jobs/"+url.PathEscape(id)+"/logs", nil, &out)
}

// Cancel cancels a job.
func (c *Client) Cancel(ctx context.Context, id string) (api.JobView, error) {
	var out api.JobView
	return out, c.do(ctx, http.MethodPost, "/api/v1/jobs/"+url.PathEscape(id)+"/cancel", nil, &out)
}

// Wallet shows a wallet (orgID only for operators).
func (c *Client) Wallet(ctx context.Context, orgID string) (api.WalletView, error) {
	var out api.WalletView
	path := "/api/v1/wallet"
	if orgID != "" {
		path += "?org_id=" + url.QueryEscape(orgID)
	}
	return out, c.do(ctx, http.MethodGet, path, nil, &out)
}

// TopUp credits a tenant's wallet (operator).
func (c *Client) TopUp(ctx context.Context, orgID string, amount core.Micros, ref string) (api.WalletView, error) {
	var out api.WalletView
	in := map[string]any{"org_id": orgID, "amount_micros": amount, "reference": ref}
	return out, c.do(ctx, http.MethodPost, "/api/v1/wallet/topup", in, &out)
}

// Transfers lists ledger transfers visible to the caller.
func (c *Client) Transfers(ctx context.Context, account, jobID string, limit int) ([]ledger.Transfer, int, error) {
	q := url.Values{}
	if account != "" {
		q.Set("account", account)
	}
	if jobID != "" {
		q.Set("job_id", jobID)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var out struct {
		Transfers []ledger.Transfer
		Total     int
	}
	err := c.do(ctx, http.MethodGet, "/api/v1/ledger/transfers?"+q.Encode(), nil, &out)
	return out.Transfers, out.Total, err
}

// CheckLedger asks the server to verify the ledger (operator).
func (c *Client) CheckLedger(ctx context.Context) (bool, string, error) {
	var out struct {
		OK      bool
		Message string
	}
	err := c.do(ctx, http.MethodGet, "/api/v1/ledger/check", nil, &out)
	return out.OK, out.Message, err
}

// Overview gets the network overview.
func (c *Client) Overview(ctx context.Context) (api.Overview, error) {
	var out api.Overview
	return out, c.do(ctx, http.MethodGet, "/api/v1/overview", nil, &out)
}

// Whoami returns the caller's org.
func (c *Client) Whoami(ctx context.Context) (core.Org, error) {
	var out core.Org
	return out, c.do(ctx, http.MethodGet, "/api/v1/whoami", nil, &out)
}

// Wait polls a job until it is terminal or ctx ends, calling progress on
// every state change. pollEvery bounds the poll rate.
func (c *Client) Wait(ctx context.Context, id string, pollEvery time.Duration, progress func(api.JobView)) (api.JobView, error) {
	var last core.JobState
	for {
		j, err := c.Job(ctx, id)
		if err != nil {
			return j, err
		}
		if progress != nil && j.State != last {
			progress(j)
			last = j.State
		}
		if j.State.Terminal() {
			return j, nil
		}
		select {
		case <-ctx.Done():
			return j, ctx.Err()
		case <-time.After(pollEvery):
		}
	}
}

// Orgs lists organizations (operator).
func (c *Client) Orgs(ctx context.Context) ([]core.Org, error) {
	var out struct{ Orgs []core.Org }
	return out.Orgs, c.do(ctx, http.MethodGet, "/api/v1/orgs", nil, &out)
}

// CreateOrg registers an organization (operator).
func (c *Client) CreateOrg(ctx context.Context, name, creditCode string, role core.Role) (core.Org, error) {
	var out core.Org
	in := map[string]any{"name": name, "credit_code": creditCode, "role": role}
	return out, c.do(ctx, http.MethodPost, "/api/v1/orgs", in, &out)
}

// CreateToken mints a token for an organization (operator).
func (c *Client) CreateToken(ctx context.Context, orgID, name string) (string, error) {
	var out struct{ Token string }
	in := map[string]any{"name": name}
	return out.Token, c.do(ctx, http.MethodPost, "/api/v1/orgs/"+url.PathEscape(orgID)+"/tokens", in, &out)
}
