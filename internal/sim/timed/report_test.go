package timed

import (
	"bytes"
	"strings"
	"testing"
)

func TestQuickReport(t *testing.T) {
	needTrace(t, "philly-pollux/philly.csv")
	needTrace(t, "alibaba-gpu-v2023-openb/openb_pod_list_default.csv")
	rep, err := RunReport(ReportOptions{TraceDir: traceRoot(), IntervalMs: DefaultIntervalMs, Quick: true})
	if err != nil {
		t.Fatal(err)
	}
	var md, svg bytes.Buffer
	if err := rep.WriteMarkdown(&md, "test"); err != nil {
		t.Fatal(err)
	}
	if err := rep.WritePlot(&svg); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"## Pollux workloads", "| **mean** |", "Gavel's synthetic workload", "openb", "like for like", "Jain"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if strings.Contains(md.String(), "error") {
		t.Errorf("a replay of the report failed:\n%s", md.String())
	}
	if !strings.HasPrefix(svg.String(), "<svg") || strings.Count(svg.String(), "<polyline") != 2*len(Policies) {
		t.Errorf("plot has %d lines, want %d", strings.Count(svg.String(), "<polyline"), 2*len(Policies))
	}
}
