package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/suanli/suanli/internal/core"
)

// PriorityClasses lists the operator's named priority classes, highest
// value first.
func (c *Client) PriorityClasses(ctx context.Context) ([]core.PriorityClass, error) {
	var out struct {
		PriorityClasses []core.PriorityClass `json:"priority_classes"`
	}
	return out.PriorityClasses, c.do(ctx, http.MethodGet, "/api/v1/priority-classes", nil, &out)
}

// SetPriorityClass creates or replaces a priority class (operator).
func (c *Client) SetPriorityClass(ctx context.Context, pc core.PriorityClass) error {
	return c.do(ctx, http.MethodPut, "/api/v1/priority-classes", pc, nil)
}

// DeletePriorityClass removes a priority class (operator).
func (c *Client) DeletePriorityClass(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodDelete, "/api/v1/priority-classes/"+url.PathEscape(name), nil, nil)
}
