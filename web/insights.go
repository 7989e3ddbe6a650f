package web

import (
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	ft "github.com/followthrough/followthrough"
)

// GET /insights: are postmortem action items getting done, and on time? Four figures, each an
// SVG chart drawn on the server with the same figures in a table beside it; ?format=json (or
// Accept) gives the figures. The store computes them in SQL; the definitions are in the page's
// footnote and in store/insights.go.

var insightsTemplate = template.Must(template.New("layout.html").Funcs(pageFuncs).Funcs(template.FuncMap{
	"svg":  svgNumber,
	"days": formatDays,
}).ParseFS(templateFS, "templates/layout.html", "templates/insights.html", "templates/chart.html"))

// insightRoutes registers /insights, public or not as the status page is.
func (s *Server) insightRoutes() {
	s.pageRoute("/insights", s.insightsPage, pageFormats)
}

// insightsFilter reads the filters team, severity and since=YYYY-MM-DD.
func insightsFilter(q url.Values) (ft.InsightsFilter, error) {
	f := ft.InsightsFilter{Team: q.Get("team"), Severity: q.Get("severity")}
	if len(f.Team) > maxFilterLength {
		return f, badRequest("team must be at most %d characters", maxFilterLength)
	}
	if len(f.Severity) > maxFilterLength {
		return f, badRequest("severity must be at most %d characters", maxFilterLength)
	}
	if err := textFilters("team", f.Team, "severity", f.Severity); err != nil {
		return f, err
	}
	if since := q.Get("since"); since != "" {
		t, err := time.Parse(time.DateOnly, since)
		if err != nil {
			return f, badRequest("since must be a date as YYYY-MM-DD")
		}
		f.Since = t
	}
	return f, nil
}

// filterJSON is the filter an /insights answer was computed for.
type filterJSON struct {
	Team     string  `json:"team"`
	Severity string  `json:"severity"`
	Since    *string `json:"since"`
}

// teamShare is one team of the on-time figure with its share, on_time ÷ finished (nil when
// nothing is finished).
type teamShare struct {
	ft.TeamOnTime
	Share *float64 `json:"share"`
}

// Percent is the share as a whole percentage, rounded down like completion.
func (t teamShare) Percent() int { return t.OnTime * 100 / max(t.Finished, 1) }

// ageRow is one bucket of the overdue figure with its label.
type ageRow struct {
	Age string `json:"age"`
	ft.AgeBucket
}

// insightsResponse is the JSON of GET /insights.
type insightsResponse struct {
	Filter       filterJSON        `json:"filter"`
	AsOf         time.Time         `json:"as_of"`
	Burndown     []ft.WeekCount    `json:"burndown"`
	OnTime       []teamShare       `json:"on_time"`
	DaysToDone   []ft.PriorityDays `json:"days_to_done"`
	OverdueByAge []ageRow          `json:"overdue_by_age"`
}

// insightsPageData is the data of templates/insights.html.
type insightsPageData struct {
	insightsResponse
	Since         string // the since filter as given
	BurndownChart chart
	OnTimeChart   chart
	DaysChart     chart
	OverdueChart  chart
	ExportJS      string
}

// insightsPage is GET /insights?team=&severity=&since=.
func (s *Server) insightsPage(c echo.Context, format string) error {
	q := c.QueryParams()
	f, err := insightsFilter(q)
	if err != nil {
		return err
	}
	now := s.now()
	ctx := c.Request().Context()
	in, err := s.reader.Insights(ctx, f, s.cfg.Stall.Policy(), now)
	if err != nil {
		return err
	}
	data := insightsData(in, f, now)
	if format == formatJSON {
		return c.JSON(http.StatusOK, data)
	}
	page := insightsPageData{insightsResponse: data, Since: q.Get("since")}
	page.BurndownChart = burndownChart(data.Burndown)
	page.OnTimeChart = onTimeChart(data.OnTime)
	page.DaysChart = daysChart(data.DaysToDone)
	page.OverdueChart = overdueChart(data.OverdueByAge)
	export := url.Values{"format": {formatJSON}}
	for _, k := range []string{"team", "severity", "since"} {
		if v := q.Get(k); v != "" {
			export.Set(k, v)
		}
	}
	page.ExportJS = "/insights?" + export.Encode()
	return s.renderHTML(c, http.StatusOK, insightsTemplate, page)
}

// insightsData is the answer to /insights: the store's figures with the on-time shares and the
// age buckets' labels.
func insightsData(in ft.Insights, f ft.InsightsFilter, now time.Time) insightsResponse {
	out := insightsResponse{
		Filter:     filterJSON{Team: f.Team, Severity: f.Severity},
		AsOf:       now.UTC(),
		Burndown:   in.Burndown,
		DaysToDone: in.DaysToDone,
		OnTime:     []teamShare{},
	}
	if !f.Since.IsZero() {
		since := f.Since.Format(time.DateOnly)
		out.Filter.Since = &since
	}
	for _, t := range in.OnTime {
		ts := teamShare{TeamOnTime: t}
		if t.Finished > 0 {
			share := float64(t.OnTime) / float64(t.Finished)
			ts.Share = &share
		}
		out.OnTime = append(out.OnTime, ts)
	}
	for _, b := range in.Overdue {
		out.OverdueByAge = append(out.OverdueByAge, ageRow{Age: ageLabel(b), AgeBucket: b})
	}
	return out
}

// ageLabel names an overdue age bucket.
func ageLabel(b ft.AgeBucket) string {
	switch {
	case b.FromDays == 0:
		return fmt.Sprintf("under %d days", b.ToDays)
	case b.ToDays == 0:
		return fmt.Sprintf("%d days or more", b.FromDays)
	}
	return fmt.Sprintf("%d–%d days", b.FromDays, b.ToDays-1)
}

// teamName is how the page names a team; items with no team, nor one on their postmortem, are
// one group.
func teamName(team string) string {
	if team == "" {
		return "(no team)"
	}
	return team
}

func onTimeChart(teams []teamShare) chart {
	labels := make([]string, len(teams))
	values := make([]*float64, len(teams))
	finished, onTime := 0, 0
	for i, t := range teams {
		labels[i] = teamName(t.Team)
		if t.Share != nil {
			pct := float64(t.Percent())
			values[i] = &pct
		}
		finished += t.Finished
		onTime += t.OnTime
	}
	desc := fmt.Sprintf("%d teams; %d of %d finished items were finished on time.", len(teams), onTime, finished)
	percent := func(v float64) string { return strconv.Itoa(int(v)) + "%" }
	return hbarChart("chart-on-time", "Share of finished action items finished by their due date, per team", desc,
		labels, values, 100, percent)
}

func daysChart(days []ft.PriorityDays) chart {
	labels := make([]string, len(days))
	values := make([]*float64, len(days))
	var words []string
	for i, d := range days {
		labels[i] = d.Priority
		values[i] = d.MedianDays
		if d.MedianDays != nil {
			words = append(words, fmt.Sprintf("%s %s days over %d done", d.Priority, formatDays(*d.MedianDays), d.Done))
		} else {
			words = append(words, d.Priority+" none done")
		}
	}
	return vbarChart("chart-days-to-done", "Median days from sign-off to done, per priority",
		strings.Join(words, "; ")+".", labels, values, formatDays)
}

func overdueChart(ages []ageRow) chart {
	labels := make([]string, len(ages))
	values := make([]*float64, len(ages))
	var words []string
	for i, a := range ages {
		labels[i] = a.Age
		n := float64(a.Items)
		values[i] = &n
		words = append(words, fmt.Sprintf("%s %d", a.Age, a.Items))
	}
	count := func(v float64) string { return strconv.Itoa(int(v)) }
	return vbarChart("chart-overdue", "Overdue action items by days since their due day ended", strings.Join(words, "; ")+".",
		labels, values, count)
}
