package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/suanli/suanli/internal/agentproto"
	"github.com/suanli/suanli/internal/api"
)

// AgentSync sends an agent's heartbeat and report for a center.
func (c *Client) AgentSync(ctx context.Context, center string, req agentproto.SyncRequest) (agentproto.SyncResponse, error) {
	var out agentproto.SyncResponse
	return out, c.do(ctx, http.MethodPost, "/api/v1/agent/centers/"+url.PathEscape(center)+"/sync", req, &out)
}

// UploadLogs sends a run's logs for a center.
func (c *Client) UploadLogs(ctx context.Context, center string, u agentproto.LogUpload) error {
	return c.do(ctx, http.MethodPut, "/api/v1/agent/centers/"+url.PathEscape(center)+"/logs", u, nil)
}

// Center returns one center by name or ID.
func (c *Client) Center(ctx context.Context, name string) (api.CenterView, error) {
	var out api.CenterView
	return out, c.do(ctx, http.MethodGet, "/api/v1/centers/"+url.PathEscape(name), nil, &out)
}

// CreateCenter registers an agent center.
func (c *Client) CreateCenter(ctx context.Context, r api.CenterRequest) (api.CenterView, error) {
	var out api.CenterView
	return out, c.do(ctx, http.MethodPost, "/api/v1/centers", r, &out)
}
