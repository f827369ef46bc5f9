package console

import (
	"fmt"
	"html/template"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/suanli/suanli/internal/core"
)

// funcs are the language-independent template helpers. Language-dependent
// ones are methods of catalog.
var funcs = template.FuncMap{
	"yuan":   func(m core.Micros) string { return m.Yuan() },
	"pf":     formatPFLOPS,
	"pct":    formatPercent,
	"pctw":   barWidth,
	"ts":     formatTime,
	"tsp":    formatTimePtr,
	"dur":    formatDuration,
	"ms":     func(v int64) string { return formatDuration(time.Duration(v) * time.Millisecond) },
	"exit":   formatExit,
	"pue":    func(milli int) string { return strconv.FormatFloat(float64(milli)/1000, 'f', 2, 64) },
	"cores":  func(milli int64) string { return strconv.FormatFloat(float64(milli)/1000, 'f', -1, 64) },
	"rate":   formatRate,
	"center": func(c core.Center) string { return centerName(c) },
}

// formatPFLOPS shows a capacity with about three significant digits.
func formatPFLOPS(p float64) string {
	switch a := math.Abs(p); {
	case math.IsNaN(p) || math.IsInf(p, 0):
		return "—"
	case a >= 100:
		return strconv.FormatFloat(p, 'f', 0, 64)
	case a >= 10:
		return strconv.FormatFloat(p, 'f', 1, 64)
	default:
		return strconv.FormatFloat(p, 'f', 2, 64)
	}
}

// formatPercent shows a 0..1 share as a percentage.
func formatPercent(f float64) string {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return "—"
	}
	return strconv.FormatFloat(f*100, 'f', 1, 64) + "%"
}

// barWidth is the CSS width of a utilization bar, clamped to 0..100 %.
func barWidth(f float64) string {
	if math.IsNaN(f) || f < 0 {
		f = 0
	}
	return strconv.FormatFloat(math.Min(f, 1)*100, 'f', 1, 64) + "%"
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.In(displayZone).Format("2006-01-02 15:04:05")
}

func formatTimePtr(t *time.Time) string {
	if t == nil {
		return "—"
	}
	return formatTime(*t)
}

// formatDuration shows d to the second, as 1h02m03s, 4m05s or 6s.
func formatDuration(d time.Duration) string {
	if d < 0 {
		return "—"
	}
	if d < time.Second {
		return fmt.Sprintf("%dms", d.Milliseconds())
	}
	d = d.Round(time.Second)
	h, m, s := int64(d/time.Hour), int64(d%time.Hour/time.Minute), int64(d%time.Minute/time.Second)
	switch {
	case h > 0:
		return fmt.Sprintf("%dh%02dm%02ds", h, m, s)
	case m > 0:
		return fmt.Sprintf("%dm%02ds", m, s)
	}
	return fmt.Sprintf("%ds", s)
}

func formatExit(code *int) string {
	if code == nil {
		return "—"
	}
	return strconv.Itoa(*code)
}

// formatRate shows a placement's RateScaled as CNY per hour.
func formatRate(rateScaled int64) string {
	return core.Micros(rateScaled / core.RateScale).Yuan()
}

func centerName(c core.Center) string {
	if c.DisplayName != "" {
		return c.DisplayName
	}
	if c.Name != "" {
		return c.Name
	}
	return c.ID
}

// modelCount is a number of cards of one model.
type modelCount struct {
	Model string
	Count int64
}

func sortedModels(m map[string]int64) []modelCount {
	out := make([]modelCount, 0, len(m))
	for k, v := range m {
		out = append(out, modelCount{k, v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Model < out[j].Model })
	return out
}

// modelPrice is a card-hour price of one model.
type modelPrice struct {
	Model string
	Price core.Micros
}

func sortedPrices(m map[string]core.Micros) []modelPrice {
	out := make([]modelPrice, 0, len(m))
	for k, v := range m {
		out = append(out, modelPrice{k, v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Model < out[j].Model })
	return out
}

// jobAccel summarizes a job's accelerators: the total count and the models
// it got (placements) or accepts (spec).
func jobAccel(j core.Job) string {
	var n int64
	models := map[string]bool{}
	for _, r := range j.Spec.Replicas {
		n += r.AccelCount
		if len(j.Placements) == 0 {
			for _, m := range r.AccelModels {
				models[m] = true
			}
		}
	}
	for _, p := range j.Placements {
		if p.AccelModel != "" {
			models[p.AccelModel] = true
		}
	}
	if n == 0 {
		return "—"
	}
	names := make([]string, 0, len(models))
	for m := range models {
		names = append(names, m)
	}
	sort.Strings(names)
	if len(names) == 0 {
		return strconv.FormatInt(n, 10)
	}
	return fmt.Sprintf("%d × %s", n, strings.Join(names, "/"))
}

// jobDuration is how long a job has run: start to finish, or start to now.
func jobDuration(j core.Job, now time.Time) string {
	if j.StartedAt == nil {
		return "—"
	}
	end := now
	if j.FinishedAt != nil {
		end = *j.FinishedAt
	}
	return formatDuration(end.Sub(*j.StartedAt))
}

// startOfDay is midnight of t's day in the display zone.
func startOfDay(t time.Time) time.Time {
	y, m, d := t.In(displayZone).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, displayZone)
}

// tailUTF8 returns at most n bytes from the end of s, starting on a rune
// boundary, and whether it cut anything.
func tailUTF8(s string, n int) (string, bool) {
	if len(s) <= n {
		return s, false
	}
	i := len(s) - n
	for i < len(s) && s[i]&0xC0 == 0x80 {
		i++
	}
	return s[i:], true
}
