package report

import (
	"fmt"
	"math"
)

// Chart geometry, in SVG user units (the SVG scales to the page).
const (
	chartW     = 960.0
	chartH     = 240.0
	plotLeft   = 70.0
	plotRight  = 10.0
	plotTop    = 24.0
	plotBottom = 36.0
	maxLabels  = 12
)

// chart is one bar chart of a value per day, out and in side by side.
type chart struct {
	Title  string
	W, H   float64
	Bars   []bar
	Ticks  []tick // y axis
	Labels []tick // x axis (dates)
	Left   float64
	Bottom float64 // y of the x axis
	Right  float64
	// x of the legend's swatches and words
	LegendOut, LegendOutText, LegendIn, LegendInText float64
}

type bar struct {
	X, Y, W, H float64
	Class      string // "out" or "in"
	Tip        string
}

type tick struct {
	X, Y  float64
	Label string
}

// newChart lays out days' values (out and in) as bars.
func newChart(title string, days []*Day, out, in func(*Day) int64, unit func(int64) string) chart {
	c := chart{Title: title, W: chartW, H: chartH, Left: plotLeft, Bottom: chartH - plotBottom, Right: chartW - plotRight}
	c.LegendOut, c.LegendOutText = c.Right-150, c.Right-136
	c.LegendIn, c.LegendInText = c.Right-90, c.Right-76
	most := int64(0)
	for _, d := range days {
		most = max(most, out(d), in(d))
	}
	top, step := niceScale(most)
	plotH := c.Bottom - plotTop
	for v := int64(0); v <= top; v += step {
		c.Ticks = append(c.Ticks, tick{X: plotLeft - 6, Y: round(c.Bottom - plotH*float64(v)/float64(top)), Label: unit(v)})
	}
	if len(days) == 0 {
		return c
	}
	slot := (c.Right - plotLeft) / float64(len(days))
	w := math.Max(slot*0.4, 0.2)
	every := (len(days) + maxLabels - 1) / maxLabels
	for i, d := range days {
		x := plotLeft + slot*float64(i)
		for j, v := range []int64{out(d), in(d)} {
			h := plotH * float64(v) / float64(top)
			class, dir := "out", "sent"
			if j == 1 {
				class, dir = "in", "received"
			}
			c.Bars = append(c.Bars, bar{X: round(x + slot*0.1 + w*float64(j)), Y: round(c.Bottom - h), W: round(w), H: round(h),
				Class: class, Tip: fmt.Sprintf("%s: %s %s", d.Date, unit(v), dir)})
		}
		if i%every == 0 {
			c.Labels = append(c.Labels, tick{X: round(x + slot/2), Y: c.Bottom + 16, Label: d.Date})
		}
	}
	return c
}

// niceScale returns the top of a y axis for values up to n and the step
// between its ticks: a round step (1, 2, 2.5 or 5 times a power of ten;
// no 2.5 below 10) giving at most five steps.
func niceScale(n int64) (top, step int64) {
	if n <= 0 {
		return 4, 1
	}
	for p := int64(1); p <= math.MaxInt64/50; p *= 10 {
		steps := []int64{p, 2 * p, 5 * p}
		if p >= 10 {
			steps = []int64{p, 2 * p, 5 * p / 2, 5 * p}
		}
		for _, s := range steps {
			if (n+s-1)/s <= 5 {
				return s * ((n + s - 1) / s), s
			}
		}
	}
	return n, n
}

func round(f float64) float64 { return math.Round(f*100) / 100 }

// count formats a number of bundles.
func count(n int64) string { return fmt.Sprintf("%d", n) }

// size formats bytes in decimal units (kB, MB, GB: powers of 1000), so
// that the chart's round ticks read as round numbers.
func size(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(n)/float64(div), "kMGTPE"[exp])
}
