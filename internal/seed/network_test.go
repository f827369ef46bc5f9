package seed

import "testing"

// TestDemoLinks: every link is valid and stored once (From < To), every
// pair of demo places is linked, every demo center's region is on the
// network, and hub to hub stays within the published 20 ms target.
func TestDemoLinks(t *testing.T) {
	links := DemoLinks()
	if want := len(demoPlaces) * (len(demoPlaces) - 1) / 2; len(links) != want {
		t.Fatalf("DemoLinks = %d links, want %d (every pair once)", len(links), want)
	}
	hub := map[string]bool{}
	for _, p := range demoPlaces {
		hub[p.region] = p.hub
	}
	seen := map[[2]string]bool{}
	onNetwork := map[string]bool{}
	for _, l := range links {
		if err := l.Validate(); err != nil {
			t.Errorf("link %+v: %v", l, err)
		}
		if l.From >= l.To || seen[[2]string{l.From, l.To}] {
			t.Errorf("link %+v is not normalized or is a duplicate", l)
		}
		seen[[2]string{l.From, l.To}] = true
		onNetwork[l.From], onNetwork[l.To] = true, true
		if hub[l.From] && hub[l.To] && l.LatencyMs > 20 {
			t.Errorf("hub link %s-%s: %d ms, over the 20 ms target", l.From, l.To, l.LatencyMs)
		}
		if l.LatencyMs < 1 {
			t.Errorf("link %s-%s: %d ms, faster than light in fiber", l.From, l.To, l.LatencyMs)
		}
	}
	for _, s := range Demo {
		if !onNetwork[s.Region] {
			t.Errorf("center %s: region %s has no link", s.Name, s.Region)
		}
	}
}
