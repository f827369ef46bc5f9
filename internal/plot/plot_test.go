package plot

import (
	"bytes"
	"image/png"
	"strings"
	"testing"
)

// TestPNG: the chart decodes as a PNG of the asked size and each series
// is drawn in its own colour; bad charts are refused.
func TestPNG(t *testing.T) {
	c := Chart{Title: "unallocated GPU", XLabel: "arrived (%)", YLabel: "%", Series: []Series{
		{Name: "fgd", X: []float64{0, 50, 100}, Y: []float64{0, 1, 4.77}},
		{Name: "suanli", X: []float64{0, 50, 100}, Y: []float64{0, 2, 4.28}},
	}}
	var b bytes.Buffer
	if err := c.PNG(&b, 640, 400); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&b)
	if err != nil {
		t.Fatal(err)
	}
	if got := img.Bounds().Size(); got.X != 640 || got.Y != 400 {
		t.Fatalf("size %v, want 640x400", got)
	}
	seen := map[int]int{}
	for y := 0; y < 400; y++ {
		for x := 0; x < 640; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			for i := range c.Series {
				cr, cg, cb, _ := Color(i).RGBA()
				if r == cr && g == cg && bl == cb {
					seen[i]++
				}
			}
		}
	}
	for i := range c.Series {
		if seen[i] < 100 {
			t.Errorf("series %d: %d pixels in its colour, want a drawn line", i, seen[i])
		}
	}
	for _, bad := range []Chart{{}, {Series: []Series{{Name: "x", X: []float64{1}, Y: nil}}}} {
		if err := bad.PNG(&b, 640, 400); err == nil || !strings.HasPrefix(err.Error(), "plot:") {
			t.Errorf("chart %+v: err %v, want a plot error", bad, err)
		}
	}
	if err := c.PNG(&b, 10, 10); err == nil {
		t.Error("a 10x10 chart was drawn")
	}
}
