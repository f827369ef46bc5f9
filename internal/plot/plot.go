// Package plot draws line charts as PNG images with nothing but the
// standard library's image packages and a fixed bitmap font, so a replay
// can write its curve where no browser or plotting tool is installed.
package plot

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// Limits keep a chart bounded.
const (
	SeriesMax     = 16
	PointsMax     = 100_000
	SizeMaxPixels = 4096
	ticks         = 5 // intervals per axis
)

// Series is one named line.
type Series struct {
	Name string
	X, Y []float64
}

// Chart is a line chart. Axis ranges come from the data when Min == Max.
type Chart struct {
	Title, XLabel, YLabel string
	XMin, XMax            float64
	YMin, YMax            float64
	Series                []Series
}

var palette = []color.RGBA{
	{0x1f, 0x77, 0xb4, 0xff}, {0xd6, 0x27, 0x28, 0xff}, {0x2c, 0xa0, 0x2c, 0xff}, {0xff, 0x7f, 0x0e, 0xff},
	{0x94, 0x67, 0xbd, 0xff}, {0x8c, 0x56, 0x4b, 0xff}, {0xe3, 0x77, 0xc2, 0xff}, {0x7f, 0x7f, 0x7f, 0xff},
}

// Color is the colour series i is drawn in.
func Color(i int) color.RGBA { return palette[i%len(palette)] }

// Validate checks the chart's bounds.
func (c Chart) Validate() error {
	if len(c.Series) == 0 || len(c.Series) > SeriesMax {
		return fmt.Errorf("plot: 1 to %d series, got %d", SeriesMax, len(c.Series))
	}
	for _, s := range c.Series {
		if len(s.X) != len(s.Y) || len(s.X) == 0 || len(s.X) > PointsMax {
			return fmt.Errorf("plot: series %q has %d x and %d y values (want 1 to %d pairs)", s.Name, len(s.X), len(s.Y), PointsMax)
		}
	}
	return nil
}

// PNG writes the chart as a width × height PNG.
func (c Chart) PNG(w io.Writer, width, height int) error {
	if err := c.Validate(); err != nil {
		return err
	}
	if width < 200 || height < 150 || width > SizeMaxPixels || height > SizeMaxPixels {
		return errors.New("plot: size out of range")
	}
	img := image.NewRGBA(image.Rect(0, 0, width, height))
	fill(img, img.Bounds(), color.RGBA{0xff, 0xff, 0xff, 0xff})
	c.autoRange()
	// Plot area: room for tick labels on the left and below, the title
	// above and the legend on the right.
	area := image.Rect(60, 42, width-150, height-45)
	grid, ink := color.RGBA{0xe0, 0xe0, 0xe0, 0xff}, color.RGBA{0x20, 0x20, 0x20, 0xff}
	px := func(x float64) int {
		return area.Min.X + int(math.Round((x-c.XMin)/(c.XMax-c.XMin)*float64(area.Dx())))
	}
	py := func(y float64) int {
		return area.Max.Y - int(math.Round((y-c.YMin)/(c.YMax-c.YMin)*float64(area.Dy())))
	}
	for _, x := range tickValues(c.XMin, c.XMax) {
		line(img, px(x), area.Min.Y, px(x), area.Max.Y, grid, 1)
		label := number(x)
		text(img, px(x)-3*len(label), area.Max.Y+15, label, ink)
	}
	for _, y := range tickValues(c.YMin, c.YMax) {
		line(img, area.Min.X, py(y), area.Max.X, py(y), grid, 1)
		label := number(y)
		text(img, area.Min.X-8-7*len(label), py(y)+4, label, ink)
	}
	line(img, area.Min.X, area.Max.Y, area.Max.X, area.Max.Y, ink, 1)
	line(img, area.Min.X, area.Min.Y, area.Min.X, area.Max.Y, ink, 1)
	text(img, area.Min.X, 15, c.Title, ink)
	text(img, area.Min.X+area.Dx()/2-3*len(c.XLabel), height-10, c.XLabel, ink)
	text(img, 4, area.Min.Y-12, c.YLabel, ink)
	for i, s := range c.Series {
		col := Color(i)
		for k := 1; k < len(s.X); k++ {
			line(img, px(s.X[k-1]), py(s.Y[k-1]), px(s.X[k]), py(s.Y[k]), col, 2)
		}
		ly := area.Min.Y + 10 + 18*i
		line(img, area.Max.X+12, ly-4, area.Max.X+32, ly-4, col, 2)
		text(img, area.Max.X+38, ly, s.Name, ink)
	}
	if err := png.Encode(w, img); err != nil {
		return fmt.Errorf("plot: encode: %w", err)
	}
	return nil
}

// autoRange fills axis ranges the caller left empty from the data, and
// widens a range with a single value so the scale is defined.
func (c *Chart) autoRange() {
	if c.XMin == c.XMax || c.YMin == c.YMax {
		xlo, xhi, ylo, yhi := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
		for _, s := range c.Series {
			for k := range s.X {
				xlo, xhi = math.Min(xlo, s.X[k]), math.Max(xhi, s.X[k])
				ylo, yhi = math.Min(ylo, s.Y[k]), math.Max(yhi, s.Y[k])
			}
		}
		if c.XMin == c.XMax {
			c.XMin, c.XMax = xlo, xhi
		}
		if c.YMin == c.YMax {
			c.YMin, c.YMax = math.Min(0, ylo), yhi
			if step := niceStep(c.YMax - c.YMin); step > 0 {
				c.YMax = math.Ceil(c.YMax/step) * step // end on a round tick
			}
		}
	}
	if c.XMax <= c.XMin {
		c.XMax = c.XMin + 1
	}
	if c.YMax <= c.YMin {
		c.YMax = c.YMin + 1
	}
}

// niceStep is a round tick step (1, 2, 2.5 or 5 × a power of ten) that
// cuts span into about five intervals.
func niceStep(span float64) float64 {
	if span <= 0 || math.IsInf(span, 0) || math.IsNaN(span) {
		return 0
	}
	raw := span / ticks
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*p >= raw {
			return m * p
		}
	}
	return 10 * p
}

// tickValues are the multiples of niceStep within [lo, hi].
func tickValues(lo, hi float64) []float64 {
	step := niceStep(hi - lo)
	if step == 0 {
		return []float64{lo}
	}
	var out []float64
	for v := math.Ceil(lo/step) * step; v <= hi+step*1e-9 && len(out) <= 2*ticks+1; v += step {
		out = append(out, v)
	}
	return out
}

func number(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e9 {
		return fmt.Sprintf("%d", int64(v))
	}
	return fmt.Sprintf("%.3g", v)
}

func fill(img *image.RGBA, r image.Rectangle, c color.RGBA) {
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			img.SetRGBA(x, y, c)
		}
	}
}

// line draws a segment (Bresenham) of the given thickness in pixels.
func line(img *image.RGBA, x0, y0, x1, y1 int, c color.RGBA, thick int) {
	dx, dy := abs(x1-x0), -abs(y1-y0)
	sx, sy := sign(x1-x0), sign(y1-y0)
	e := dx + dy
	for steps := 0; steps <= 4*SizeMaxPixels; steps++ { // bounded: a segment crosses the image at most
		for t := 0; t < thick; t++ {
			img.SetRGBA(x0, y0+t, c)
		}
		if x0 == x1 && y0 == y1 {
			return
		}
		e2 := 2 * e
		if e2 >= dy {
			e += dy
			x0 += sx
		}
		if e2 <= dx {
			e += dx
			y0 += sy
		}
	}
}

func text(img *image.RGBA, x, y int, s string, c color.RGBA) {
	d := font.Drawer{Dst: img, Src: image.NewUniform(c), Face: basicfont.Face7x13, Dot: fixed.P(x, y)}
	d.DrawString(s)
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

func sign(v int) int {
	switch {
	case v < 0:
		return -1
	case v > 0:
		return 1
	}
	return 0
}
