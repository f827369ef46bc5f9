package fgd

import (
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeSyntheticTraces writes an openb-shaped directory: the synthetic
// cluster and two pod lists.
func writeSyntheticTraces(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	nodes, _ := syntheticTrace(42)
	var nb strings.Builder
	nb.WriteString("sn,cpu_milli,memory_mib,gpu,model\n")
	for _, n := range nodes {
		fmt.Fprintf(&nb, "%s,%d,%d,%d,%s\n", n.Name, n.CPUMilli, n.MemoryMiB, n.GPUs, n.Model)
	}
	files := map[string]string{NodeListFile: nb.String()}
	for name, seed := range map[string]int64{"default": 1, "cpu050": 2} {
		_, pods := syntheticTrace(seed)
		var pb strings.Builder
		pb.WriteString("name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec\n")
		for _, p := range pods {
			fmt.Fprintf(&pb, "%s,%d,%d,%d,%d,%s\n", p.Name, p.CPUMilli, p.MemoryMiB, p.GPUs, p.GPUMilli, p.Spec)
		}
		files["openb_pod_list_"+name+".csv"] = pb.String()
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestReport(t *testing.T) {
	dir := writeSyntheticTraces(t)
	if _, _, err := FindTraces(t.TempDir()); err == nil {
		t.Error("FindTraces accepted an empty directory")
	}
	_, variants, err := FindTraces(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(variants) != 2 || variants[0].Name != "default" || variants[1].Name != "cpu050" {
		t.Fatalf("variants = %v, want default first, then cpu050", variants)
	}
	rep, err := RunReport(ReportOptions{TraceDir: dir, Policies: AllPolicies, Seeds: []int64{1, 2}, Tune: 1.3, Workers: 2, Ablation: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Cells) != 2 || len(rep.Cells[0]) != len(AllPolicies) || len(rep.Ablation) != len(ablations) {
		t.Fatalf("report grid %d × %d, ablation %d", len(rep.Cells), len(rep.Cells[0]), len(rep.Ablation))
	}
	var md, svg strings.Builder
	if err := rep.WriteMarkdown(&md, "suanli sim report"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"## Methods", "| variant | set | suanli | fgd |", "| default | *dev* |", "| cpu050 | held out |",
		"Δ suanli−fgd", "](" + PlotFile + ")", "## Ablation on the development variants", "| suanli variant | default |"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
	if err := rep.WritePlot(&svg, "default"); err != nil {
		t.Fatal(err)
	}
	// The SVG must be well-formed XML with a polyline per policy and panel.
	dec := xml.NewDecoder(strings.NewReader(svg.String()))
	lines := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			if err.Error() != "EOF" {
				t.Fatalf("SVG is not well-formed: %v", err)
			}
			break
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "polyline" {
			lines++
		}
	}
	if lines != 2*len(AllPolicies) {
		t.Errorf("SVG has %d polylines, want %d", lines, 2*len(AllPolicies))
	}
	if err := rep.WritePlot(&svg, "nope"); err == nil {
		t.Error("WritePlot accepted an unknown variant")
	}
}
