package backend

import "testing"

func TestKeyRoundTrip(t *testing.T) {
	for _, k := range []Key{{"j-1", 0}, {"0193abc-def", 12}, {"a.b", 3}} {
		got, ok := ParseKey(k.String())
		if !ok || got != k {
			t.Errorf("ParseKey(%q) = %v, %v; want %v", k.String(), got, ok, k)
		}
	}
	for _, s := range []string{"", "job.1", "suanli.", "suanli.j", "suanli.j.x", "suanli..1", "suanli.j.-1"} {
		if k, ok := ParseKey(s); ok {
			t.Errorf("ParseKey(%q) = %v, want not a key", s, k)
		}
	}
}
