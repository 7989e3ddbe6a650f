package web

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	ft "github.com/followthrough/followthrough"
)

// The charts of /insights, drawn on the server as SVG: geometry is worked out here and
// templates/chart.html writes the elements. Each chart carries its figures in words (<title>
// and <desc>, and aria-label) for screen readers; the page puts the same figures in a table
// beside it.

// chartWidth is every chart's width in SVG units; the stylesheet scales it to the page.
const chartWidth = 640

// chart is one SVG chart.
type chart struct {
	ID     string // prefix of the ids of its <title> and <desc>
	Title  string
	Desc   string
	Width  int
	Height int
	Rects  []chartRect
	Lines  []chartLine
	Texts  []chartText
}

// chartRect is a bar; Title is its tooltip.
type chartRect struct {
	X, Y, W, H float64
	Class      string
	Title      string
}

// chartLine is a polyline through Points.
type chartLine struct {
	Points string
	Class  string
}

// chartText is a label; Anchor is start, middle or end.
type chartText struct {
	X, Y   float64
	Anchor string
	Class  string
	Text   string
}

// svgNumber writes a coordinate with one decimal, enough for a screen.
func svgNumber(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

// niceMax rounds a chart's largest value up to 1, 2 or 5 times a power of ten, so that its
// axis ends on a round number; at least 1.
func niceMax(v float64) float64 {
	if v <= 1 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

// formatDays writes a number of days with one decimal.
func formatDays(d float64) string { return strconv.FormatFloat(d, 'f', 1, 64) }

// burndownChart draws the unfinished items at the end of each week as a line (top) and the
// items created and finished in each week as pairs of bars (bottom), each panel on its own
// scale.
func burndownChart(weeks []ft.WeekCount) chart {
	const left, right, lineTop, lineHeight, barTop, barHeight = 48.0, 8.0, 12.0, 130.0, 170.0, 80.0
	c := chart{ID: "chart-burndown", Width: chartWidth, Height: 290,
		Title: "Unfinished action items over time, with items created and finished per week"}
	if len(weeks) == 0 {
		c.Desc = "No action items match."
		c.Texts = append(c.Texts, chartText{X: chartWidth / 2, Y: 120, Anchor: "middle", Class: "empty", Text: "No action items match."})
		return c
	}
	first, last := weeks[0], weeks[len(weeks)-1]
	c.Desc = fmt.Sprintf("%d weeks from the week of %s to the week of %s: %d unfinished at the start, %d now.",
		len(weeks), first.Week, last.Week, first.Unfinished, last.Unfinished)
	maxOpen, maxFlow := 0, 0
	for _, w := range weeks {
		maxOpen = max(maxOpen, w.Unfinished)
		maxFlow = max(maxFlow, w.Created, w.Finished)
	}
	openTop, flowTop := niceMax(float64(maxOpen)), niceMax(float64(maxFlow))
	step := (chartWidth - left - right) / float64(len(weeks))
	x := func(i int) float64 { return left + step*(float64(i)+0.5) }
	points := make([]string, 0, len(weeks))
	barW := max(step*0.4, 0.5)
	for i, w := range weeks {
		points = append(points, svgNumber(x(i))+","+svgNumber(lineTop+lineHeight*(1-float64(w.Unfinished)/openTop)))
		created := barHeight * float64(w.Created) / flowTop
		finished := barHeight * float64(w.Finished) / flowTop
		c.Rects = append(c.Rects,
			chartRect{X: x(i) - barW, Y: barTop + barHeight - created, W: barW, H: created, Class: "bar-created",
				Title: fmt.Sprintf("week of %s: %d created", w.Week, w.Created)},
			chartRect{X: x(i), Y: barTop + barHeight - finished, W: barW, H: finished, Class: "bar-finished",
				Title: fmt.Sprintf("week of %s: %d finished", w.Week, w.Finished)})
	}
	if len(points) == 1 {
		// One week: a short level line, so that there is something to see.
		y := strings.Split(points[0], ",")[1]
		points = []string{svgNumber(x(0)-step/2) + "," + y, svgNumber(x(0)+step/2) + "," + y}
	}
	c.Lines = append(c.Lines,
		chartLine{Points: svgNumber(left) + "," + svgNumber(lineTop+lineHeight) + " " + svgNumber(chartWidth-right) + "," + svgNumber(lineTop+lineHeight), Class: "axis"},
		chartLine{Points: svgNumber(left) + "," + svgNumber(barTop+barHeight) + " " + svgNumber(chartWidth-right) + "," + svgNumber(barTop+barHeight), Class: "axis"},
		chartLine{Points: strings.Join(points, " "), Class: "line-unfinished"})
	c.Texts = append(c.Texts,
		chartText{X: left - 6, Y: lineTop + 4, Anchor: "end", Class: "tick", Text: strconv.Itoa(int(openTop))},
		chartText{X: left - 6, Y: lineTop + lineHeight, Anchor: "end", Class: "tick", Text: "0"},
		chartText{X: left - 6, Y: barTop + 4, Anchor: "end", Class: "tick", Text: strconv.Itoa(int(flowTop))},
		chartText{X: left - 6, Y: barTop + barHeight, Anchor: "end", Class: "tick", Text: "0"},
		chartText{X: left + 4, Y: lineTop + 10, Anchor: "start", Class: "legend", Text: "unfinished at the end of the week"},
		chartText{X: left + 4, Y: barTop - 6, Anchor: "start", Class: "legend", Text: "created (left) and finished (right) per week"})
	// About six week labels along the bottom.
	every := max(1, (len(weeks)+5)/6)
	for i := 0; i < len(weeks); i += every {
		c.Texts = append(c.Texts, chartText{X: x(i), Y: barTop + barHeight + 16, Anchor: "middle", Class: "tick", Text: weeks[i].Week})
	}
	return c
}

// hbarChart draws one horizontal bar per row, each labelled on the left and with its value on
// the right; a row without a value (nil) gets a dash.
func hbarChart(id, title, desc string, labels []string, values []*float64, top float64, format func(float64) string) chart {
	const left, right, rowHeight, barHeight, pad = 150.0, 60.0, 24.0, 14.0, 8.0
	c := chart{ID: id, Title: title, Desc: desc, Width: chartWidth, Height: int(pad*2 + rowHeight*float64(max(len(labels), 1)))}
	if len(labels) == 0 {
		c.Texts = append(c.Texts, chartText{X: chartWidth / 2, Y: pad + rowHeight/2 + 4, Anchor: "middle", Class: "empty", Text: "No action items match."})
		return c
	}
	span := chartWidth - left - right
	for i, label := range labels {
		y := pad + rowHeight*float64(i)
		c.Texts = append(c.Texts, chartText{X: left - 8, Y: y + barHeight - 2, Anchor: "end", Class: "label", Text: label})
		if values[i] == nil {
			c.Texts = append(c.Texts, chartText{X: left + 4, Y: y + barHeight - 2, Anchor: "start", Class: "value", Text: "—"})
			continue
		}
		w := span * *values[i] / top
		c.Rects = append(c.Rects, chartRect{X: left, Y: y, W: w, H: barHeight, Class: "bar", Title: label + ": " + format(*values[i])})
		c.Texts = append(c.Texts, chartText{X: left + w + 6, Y: y + barHeight - 2, Anchor: "start", Class: "value", Text: format(*values[i])})
	}
	return c
}

// vbarChart draws one vertical bar per column, labelled below with its value above.
func vbarChart(id, title, desc string, labels []string, values []*float64, format func(float64) string) chart {
	const left, right, top, height, bottom = 48.0, 8.0, 20.0, 150.0, 30.0
	c := chart{ID: id, Title: title, Desc: desc, Width: chartWidth, Height: int(top + height + bottom)}
	largest := 0.0
	for _, v := range values {
		if v != nil {
			largest = max(largest, *v)
		}
	}
	axisTop := niceMax(largest)
	slot := (chartWidth - left - right) / float64(len(labels))
	for i, label := range labels {
		x := left + slot*float64(i)
		c.Texts = append(c.Texts, chartText{X: x + slot/2, Y: top + height + 18, Anchor: "middle", Class: "label", Text: label})
		if values[i] == nil {
			c.Texts = append(c.Texts, chartText{X: x + slot/2, Y: top + height - 6, Anchor: "middle", Class: "value", Text: "—"})
			continue
		}
		h := height * *values[i] / axisTop
		c.Rects = append(c.Rects, chartRect{X: x + slot*0.2, Y: top + height - h, W: slot * 0.6, H: h, Class: "bar", Title: label + ": " + format(*values[i])})
		c.Texts = append(c.Texts, chartText{X: x + slot/2, Y: top + height - h - 6, Anchor: "middle", Class: "value", Text: format(*values[i])})
	}
	c.Lines = append(c.Lines, chartLine{Points: svgNumber(left) + "," + svgNumber(top+height) + " " + svgNumber(chartWidth-right) + "," + svgNumber(top+height), Class: "axis"})
	c.Texts = append(c.Texts,
		chartText{X: left - 6, Y: top + 4, Anchor: "end", Class: "tick", Text: strconv.FormatFloat(axisTop, 'f', -1, 64)},
		chartText{X: left - 6, Y: top + height, Anchor: "end", Class: "tick", Text: "0"})
	return c
}
