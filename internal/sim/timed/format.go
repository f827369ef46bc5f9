package timed

import (
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
)

// WriteJobs writes every job's outcome and the run's metrics as aligned
// text, in a stable format (the golden tests read it).
func WriteJobs(w io.Writer, r *Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "JOB\tTENANT\tCARDS\tARRIVAL_S\tSTART_S\tFINISH_S\tDURATION_S\tJCT_S\tDELAY_S\tPREEMPTED")
	for _, j := range r.Jobs {
		if j.NeverFit {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\tnever fits\t\t%s\t\t\t\n", j.ID, j.Tenant, cards(j.AccelMilli), sec(j.ArrivalMs), sec(j.DurationMs))
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\n", j.ID, j.Tenant, cards(j.AccelMilli), sec(j.ArrivalMs),
			sec(j.StartMs), sec(j.FinishMs), sec(j.DurationMs), sec(j.JCTMs()), sec(j.DelayMs()), j.Preemptions)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return WriteMetrics(w, r.Metrics, r.Passes)
}

// SeriesShownMax bounds the utilization buckets the text output lists;
// longer series are in the JSON output.
const SeriesShownMax = 100

// WriteMetrics writes a run's metrics, one per line.
func WriteMetrics(w io.Writer, m Metrics, passes int64) error {
	series := fmt.Sprint(m.UtilPct)
	if len(m.UtilPct) > SeriesShownMax {
		series = fmt.Sprintf("%d buckets, in the JSON output", len(m.UtilPct))
	}
	_, err := fmt.Fprintf(w, "jobs %d (finished %d, never fit %d), passes %d, preemptions %d\n"+
		"JCT mean %s s, p95 %s s; queueing delay mean %s s, p95 %s s; makespan %s s\n"+
		"utilization mean %s %% (per %d s: %s); Jain %s over %d tenants\n",
		m.Jobs, m.Finished, m.NeverFit, passes, m.Preemptions, f1(m.JCTMeanS), f1(m.JCTP95S), f1(m.DelayMeanS), f1(m.DelayP95S),
		f1(m.MakespanS), f2(m.UtilMeanPct), m.UtilBucketS, series, f3(m.Jain), m.Tenants)
	return err
}

func sec(ms int64) string { return strconv.FormatFloat(float64(ms)/1000, 'f', -1, 64) }

func cards(milli int64) string {
	return strconv.FormatFloat(float64(milli)/MilliPerCard, 'f', -1, 64)
}

func f1(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }
func f2(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }
func f3(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) }
