package client

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

// TestFailover: a replica that cannot be reached is skipped; one that
// answers (even with an error) is not, so a write is never sent twice.
func TestFailover(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + l.Addr().String()
	l.Close() // nothing listens there now
	var hits atomic.Int32
	live := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.Method == http.MethodPost {
			w.WriteHeader(http.StatusConflict)
			_, _ = w.Write([]byte(`{"status":409,"code":"conflict","message":"no"}`))
			return
		}
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	defer live.Close()

	c := New(dead+", "+live.URL+"/", "tok")
	if len(c.Servers) != 2 || c.Servers[1] != live.URL {
		t.Fatalf("servers = %q", c.Servers)
	}
	var out struct{ OK bool }
	if err := c.Do(context.Background(), http.MethodGet, "/x", nil, &out); err != nil || !out.OK {
		t.Fatalf("GET through the live replica = %v %v", out, err)
	}
	// The live replica is remembered: the next request goes there first.
	if err := c.Do(context.Background(), http.MethodPost, "/x", map[string]int{"a": 1}, nil); err == nil {
		t.Fatal("POST answered 409 came back without an error")
	}
	if got := hits.Load(); got != 2 {
		t.Errorf("live replica hit %d times, want 2 (one GET, one POST not retried)", got)
	}
	only := New(dead, "tok")
	if err := only.Do(context.Background(), http.MethodGet, "/x", nil, nil); err == nil {
		t.Error("a request to no live replica succeeded")
	}
}
