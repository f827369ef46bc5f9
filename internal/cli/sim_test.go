package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// writeTinyTrace writes a small openb-shaped node and pod list: two nodes and
// enough pods to pass the tuning target.
func writeTinyTrace(t *testing.T) (nodes, pods string) {
	t.Helper()
	dir := t.TempDir()
	nodes = filepath.Join(dir, "nodes.csv")
	pods = filepath.Join(dir, "pods.csv")
	n := "sn,cpu_milli,memory_mib,gpu,model\nn0,64000,262144,2,T4\nn1,96000,393216,8,V100M32\n"
	var p strings.Builder
	p.WriteString("name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time\n")
	for i := range 12 {
		switch i % 3 {
		case 0:
			fmt.Fprintf(&p, "p%02d,4000,8192,1,500,,LS,Running,0,1,0\n", i)
		case 1:
			fmt.Fprintf(&p, "p%02d,8000,16384,1,1000,V100M32,LS,Running,0,1,0\n", i)
		default:
			fmt.Fprintf(&p, "p%02d,2000,4096,0,0,,BE,Running,0,1,0\n", i)
		}
	}
	for path, body := range map[string]string{nodes: n, pods: p.String()} {
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return nodes, pods
}

func runCLI(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Main(context.Background(), args, &out, &errOut)
	return out.String(), errOut.String(), code
}

func TestSimReplayJSON(t *testing.T) {
	nodes, pods := writeTinyTrace(t)
	args := []string{"sim", "replay", "--nodes", nodes, "--pods", pods, "--policy", "fgd", "--seeds", "42-44", "--tune", "1.3", "-o", "json"}
	out, errOut, code := runCLI(t, args...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var got struct {
		Policy string  `json:"policy"`
		Seeds  []int64 `json:"seeds"`
		Median float64 `json:"median_unallocated_gpu_pct"`
		Curve  []struct {
			ArrivedPct  int      `json:"arrived_pct"`
			Unallocated *float64 `json:"unallocated_gpu_pct"`
			Frag        *float64 `json:"frag_pct"`
		} `json:"curve"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("output is not the JSON summary: %v\n%s", err, out)
	}
	if got.Policy != "fgd" || !slices.Equal(got.Seeds, []int64{42, 43, 44}) || len(got.Curve) == 0 {
		t.Errorf("summary = %+v, want policy fgd, seeds 42..44 and a curve", got)
	}
	for _, p := range got.Curve {
		if p.Unallocated == nil || p.Frag == nil {
			t.Fatalf("curve point %d lacks unallocated_gpu_pct or frag_pct", p.ArrivedPct)
		}
	}
	// Same input, same bytes, whatever the worker count.
	again, _, _ := runCLI(t, append(args, "--workers", "1")...)
	if again != out {
		t.Error("two runs of the same replay printed different output")
	}
}

func TestSimReplayOutputs(t *testing.T) {
	nodes, pods := writeTinyTrace(t)
	base := []string{"sim", "replay", "--nodes", nodes, "--pods", pods, "--seeds", "1,2"}
	out, errOut, code := runCLI(t, append(base, "--policy", "bestfit", "-o", "csv")...)
	if code != 0 || !strings.HasPrefix(out, "arrived_pct,alloc_pct,unallocated_gpu_pct,frag_pct,frag_ratio_pct\n") {
		t.Errorf("csv: exit %d, stderr %q, output %q", code, errOut, out)
	}
	out, errOut, code = runCLI(t, append(base, "--policy", "random")...)
	if code != 0 || !strings.Contains(out, "median unallocated GPU at 100% arrived") {
		t.Errorf("table: exit %d, stderr %q, output %q", code, errOut, out)
	}
	for _, bad := range [][]string{{"--policy", "worstfit"}, {"--seeds", "9-3"}, {"-o", "yaml"}, {"--plot", "curve.jpg"}} {
		if _, _, code := runCLI(t, append(base, bad...)...); code == 0 {
			t.Errorf("%v: exit 0, want an error", bad)
		}
	}
	// --plot writes the curve as a PNG beside the normal output.
	path := filepath.Join(t.TempDir(), "curve.png")
	if _, errOut, code := runCLI(t, append(base, "--policy", "fgd", "--plot", path)...); code != 0 {
		t.Fatalf("--plot: exit %d: %s", code, errOut)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if img, err := png.Decode(f); err != nil || img.Bounds().Dx() != 900 {
		t.Errorf("--plot wrote no 900-pixel-wide PNG: %v", err)
	}
}
