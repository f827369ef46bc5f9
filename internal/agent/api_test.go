package agent_test

import (
	"context"
	"errors"
	"testing"

	"github.com/suanli/suanli/internal/agentproto"
	"github.com/suanli/suanli/internal/api"
	"github.com/suanli/suanli/internal/client"
	"github.com/suanli/suanli/internal/core"
)

// TestAgentAPIRefusesBadInput checks that the agent endpoints refuse
// other principals' centers and malformed reports with a coded error, and
// that a refused sync changes nothing.
func TestAgentAPIRefusesBadInput(t *testing.T) {
	h := newHarness(t, backendCase{name: "api", kind: core.KindHPC, accelModel: "A100"})
	ctx := context.Background()
	otherProvider, err := h.operator.CreateOrg(ctx, "另一家算力公司", "91420500MA4F0ABC19", core.RoleProvider)
	if err != nil {
		t.Fatalf("create provider: %v", err)
	}
	tok, err := h.operator.CreateToken(ctx, otherProvider.ID, "agent")
	if err != nil {
		t.Fatal(err)
	}
	other := client.New(h.srv.URL, tok)
	ok := agentproto.SyncRequest{Backend: "slurm", IntervalMs: 1000, Runs: []agentproto.RunReport{},
		Nodes: []agentproto.Node{{Name: "cn01", CPUMilli: 64000, MemMiB: 256000, AccelModel: "A100", AccelCount: 8, Ready: true}}}
	badModel := ok
	badModel.Nodes = []agentproto.Node{{Name: "cn01", CPUMilli: 64000, MemMiB: 256000, AccelModel: "TPUv9", AccelCount: 8, Ready: true}}
	dupNode := ok
	dupNode.Nodes = []agentproto.Node{ok.Nodes[0], ok.Nodes[0]}
	badInterval := ok
	badInterval.IntervalMs = 5
	badState := ok
	badState.Runs = []agentproto.RunReport{{JobID: "job-x", State: "exploded"}}

	tests := []struct {
		name   string
		c      *client.Client
		center string
		req    agentproto.SyncRequest
		status int
		code   string
	}{
		{"tenant token", h.tenant, h.center, ok, 404, "not_found"},
		{"another provider's center", other, h.center, ok, 404, "not_found"},
		{"unknown center", h.provider, "no-such-center", ok, 404, "not_found"},
		{"center without an agent", h.provider, "local", ok, 409, "conflict"},
		{"unknown accelerator model", h.provider, h.center, badModel, 422, "invalid"},
		{"node listed twice", h.provider, h.center, dupNode, 422, "invalid"},
		{"interval below 100 ms", h.provider, h.center, badInterval, 422, ""},
		{"unknown run state", h.provider, h.center, badState, 422, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.c.AgentSync(ctx, tt.center, tt.req)
			var e *client.Error
			if !errors.As(err, &e) || e.Status != tt.status || (tt.code != "" && e.Code != tt.code) || e.Message == "" {
				t.Fatalf("sync = %v, want HTTP %d %s", err, tt.status, tt.code)
			}
		})
	}
	v, err := h.operator.Center(ctx, h.center)
	if err != nil {
		t.Fatal(err)
	}
	if v.Stats.Nodes != 0 || v.AgentSeenAt != nil {
		t.Errorf("refused syncs changed the center: %d nodes, seen %v", v.Stats.Nodes, v.AgentSeenAt)
	}

	// A tenant cannot register centers; a provider cannot register one for
	// another provider.
	for _, tc := range []struct {
		name string
		c    *client.Client
		req  api.CenterRequest
	}{
		{"tenant", h.tenant, api.CenterRequest{Name: "t-center", Kind: core.KindAI, Region: "x"}},
		{"for another provider", h.provider, api.CenterRequest{Name: "p-center", Kind: core.KindAI, Region: "x", ProviderOrgID: otherProvider.ID}},
		{"unknown card model", h.provider, api.CenterRequest{Name: "m-center", Kind: core.KindAI, Region: "x", CardHour: map[string]core.Micros{"TPUv9": 1}}},
		{"name taken", h.provider, api.CenterRequest{Name: h.center, Kind: core.KindAI, Region: "x"}},
	} {
		if _, err := tc.c.CreateCenter(ctx, tc.req); err == nil {
			t.Errorf("create center (%s) succeeded", tc.name)
		}
	}

	// Logs for a job that is not on the center are refused.
	if err := h.provider.UploadLogs(ctx, h.center, agentproto.LogUpload{JobID: "job-nope", Text: "x"}); err == nil {
		t.Error("log upload for an unknown job succeeded")
	}
}
