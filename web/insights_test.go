package web

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	ft "github.com/followthrough/followthrough"
	"github.com/followthrough/followthrough/store"
)

// insightsBody is GET /insights?format=json as a client reads it.
type insightsBody struct {
	Filter struct {
		Team     string  `json:"team"`
		Severity string  `json:"severity"`
		Since    *string `json:"since"`
	} `json:"filter"`
	AsOf     time.Time      `json:"as_of"`
	Burndown []ft.WeekCount `json:"burndown"`
	OnTime   []struct {
		ft.TeamOnTime
		Share *float64 `json:"share"`
	} `json:"on_time"`
	DaysToDone   []ft.PriorityDays `json:"days_to_done"`
	OverdueByAge []struct {
		Age string `json:"age"`
		ft.AgeBucket
	} `json:"overdue_by_age"`
}

func insightsJSON(t *testing.T, r response) insightsBody {
	t.Helper()
	if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
		t.Fatalf("status %d, %s: %s", r.status, r.header.Get("Content-Type"), r.body)
	}
	var b insightsBody
	if err := json.Unmarshal(r.body, &b); err != nil {
		t.Fatalf("%s: %v", r.body, err)
	}
	return b
}

// Shorthands for the figures as text, to compare whole figures at once.
func (b insightsBody) weeks() []string {
	var out []string
	for _, w := range b.Burndown {
		out = append(out, fmt.Sprintf("%s %d %d %d %d", w.Week, w.Created, w.Finished, w.Reopened, w.Unfinished))
	}
	return out
}

func (b insightsBody) teams() []string {
	var out []string
	for _, t := range b.OnTime {
		share := "-"
		if t.Share != nil {
			share = strconv.FormatFloat(*t.Share, 'f', -1, 64)
		}
		out = append(out, fmt.Sprintf("%s %d %d %d %s", t.Team, t.Items, t.Finished, t.OnTime, share))
	}
	return out
}

func (b insightsBody) medians() []string {
	var out []string
	for _, d := range b.DaysToDone {
		median := "-"
		if d.MedianDays != nil {
			median = strconv.FormatFloat(math.Round(*d.MedianDays*1000)/1000, 'f', -1, 64)
		}
		out = append(out, fmt.Sprintf("%s %d %s", d.Priority, d.Done, median))
	}
	return out
}

func (b insightsBody) ages() []string {
	var out []string
	for _, a := range b.OverdueByAge {
		out = append(out, fmt.Sprintf("%s %d", a.Age, a.Items))
	}
	return out
}

// TestInsightsJSON checks the figures of seedOwners' history, worked out by hand there.
func TestInsightsJSON(t *testing.T) {
	e := newEnv(t, testConfig)
	seedOwners(t, e)
	for _, tc := range []struct{ path, accept string }{{"/insights?format=json", ""}, {"/insights", "application/json"}} {
		b := insightsJSON(t, e.page(tc.path, "Accept", tc.accept))
		if b.Filter.Team != "" || b.Filter.Since != nil || !b.AsOf.Equal(pageNow) {
			t.Errorf("filter %+v as of %s", b.Filter, b.AsOf)
		}
		// PM-2 (accepted Thursday 10-01) without the removed I4; I2 done 10-20. PM-1 on
		// Monday 11-02; I5 won't do 11-06, I1 done 11-09.
		if got, want := b.weeks(), []string{"2026-09-28 3 0 0 3", "2026-10-05 0 0 0 3", "2026-10-12 0 0 0 3",
			"2026-10-19 0 1 0 2", "2026-10-26 0 0 0 2", "2026-11-02 5 1 0 6", "2026-11-09 0 1 0 5",
			"2026-11-16 0 0 0 5", "2026-11-23 0 0 0 5"}; !slices.Equal(got, want) {
			t.Errorf("burn-down\n%q\nwant\n%q", got, want)
		}
		// PM-2's I2 was done late; PM-1's I1 on time, I5 won't do after its due date.
		if got, want := b.teams(), []string{xssTeam + " 3 1 0 0", "payments 5 2 1 0.5"}; !slices.Equal(got, want) {
			t.Errorf("on time %q, want %q", got, want)
		}
		// I1 7 days after PM-1's sign-off; PM-2's I2 19 days and 2 hours after its.
		if got, want := b.medians(), []string{"P0 0 -", "P1 1 7", "P2 1 19.083", "P3 0 -"}; !slices.Equal(got, want) {
			t.Errorf("days to done %q, want %q", got, want)
		}
		// PM-1's I2 (due 11-20) 5 days past its due day, I4 (11-01) 24; PM-2's I3 (default
		// 10-29) 27.
		if got, want := b.ages(), []string{"under 7 days 1", "7–27 days 2", "28–89 days 0", "90 days or more 0"}; !slices.Equal(got, want) {
			t.Errorf("overdue %q, want %q", got, want)
		}
	}
}

func TestInsightsFilters(t *testing.T) {
	e := newEnv(t, testConfig)
	seedOwners(t, e)
	tests := []struct {
		query string
		teams []string
		ages  []string
	}{
		{"team=payments", []string{"payments 5 2 1 0.5"}, []string{"under 7 days 1", "7–27 days 1", "28–89 days 0", "90 days or more 0"}},
		{"team=%3Cb%3Eops%3C%2Fb%3E", []string{xssTeam + " 3 1 0 0"}, []string{"under 7 days 0", "7–27 days 1", "28–89 days 0", "90 days or more 0"}},
		{"severity=SEV2", []string{xssTeam + " 3 1 0 0"}, []string{"under 7 days 0", "7–27 days 1", "28–89 days 0", "90 days or more 0"}},
		{"since=2026-11-02", []string{"payments 5 2 1 0.5"}, []string{"under 7 days 1", "7–27 days 1", "28–89 days 0", "90 days or more 0"}},
		{"since=2026-11-03", nil, []string{"under 7 days 0", "7–27 days 0", "28–89 days 0", "90 days or more 0"}},
		{"team=&severity=&since=", []string{xssTeam + " 3 1 0 0", "payments 5 2 1 0.5"}, []string{"under 7 days 1", "7–27 days 2", "28–89 days 0", "90 days or more 0"}},
	}
	for _, tc := range tests {
		t.Run(tc.query, func(t *testing.T) {
			b := insightsJSON(t, e.page("/insights?format=json&"+tc.query))
			if got := b.teams(); !slices.Equal(got, tc.teams) {
				t.Errorf("on time %q, want %q", got, tc.teams)
			}
			if got := b.ages(); !slices.Equal(got, tc.ages) {
				t.Errorf("overdue %q, want %q", got, tc.ages)
			}
		})
	}
	if b := insightsJSON(t, e.page("/insights?format=json&since=2026-11-02&team=payments")); b.Filter.Since == nil ||
		*b.Filter.Since != "2026-11-02" || b.Filter.Team != "payments" {
		t.Errorf("filter echoed %+v", b.Filter)
	}
}

func TestInsightsBadRequests(t *testing.T) {
	e := newEnv(t, testConfig)
	tests := []struct {
		query, want string
	}{
		{"since=2026-13-01", "since must be a date as YYYY-MM-DD"},
		{"since=yesterday", "since must be a date as YYYY-MM-DD"},
		{"since=2026-1-5", "since must be a date as YYYY-MM-DD"},
		{"team=" + strings.Repeat("x", 201), "team must be at most 200 characters"},
		{"severity=" + strings.Repeat("x", 201), "severity must be at most 200 characters"},
		{"format=csv", "format must be html or json"},
		{"format=xml", "format must be html or json"}, // /insights has no CSV
	}
	for _, tc := range tests {
		t.Run(tc.query, func(t *testing.T) {
			r := e.page("/insights?" + tc.query)
			if r.status != http.StatusBadRequest || !strings.Contains(string(r.body), tc.want) {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			if !strings.HasPrefix(tc.query, "format") && !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
				t.Errorf("a page's error is not HTML: %s", r.header.Get("Content-Type"))
			}
			if strings.HasPrefix(tc.query, "format") {
				return
			}
			if r := e.page("/insights?format=json&" + tc.query); r.status != http.StatusBadRequest || r.errorBody(t).Error == "" {
				t.Fatalf("JSON: status %d: %s", r.status, r.body)
			}
		})
	}
	if r := e.page("/owners?format=csv"); r.status != http.StatusBadRequest {
		t.Errorf("/owners?format=csv: %d", r.status)
	}
}

// TestInsightsFollowWrites: the figures are never older than the last write, nor than the day.
func TestInsightsFollowWrites(t *testing.T) {
	e := newEnv(t, testConfig)
	seedOwners(t, e)
	ctx := context.Background()
	before := insightsJSON(t, e.page("/insights?format=json&team=payments"))
	beforeHTML := string(e.page("/insights?team=payments").body)
	owners := string(e.page("/owners?format=json").body)
	// PM-1's I2 is done, today: payments has 3 finished, 1 on time.
	err := e.store.Write(ctx, func(tx *store.Tx) error {
		_, err := store.SetItemStatus(ctx, tx, "PM-1", "I2", ft.StatusDone, "github", "", pageNow)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	after := insightsJSON(t, e.page("/insights?format=json&team=payments"))
	if got := after.teams(); !slices.Equal(got, []string{"payments 5 3 1 0.3333333333333333"}) {
		t.Errorf("on time after a write %q (before %q)", got, before.teams())
	}
	const row = `<td class="num">5</td><td class="num">3</td><td class="num">1</td><td class="num">33%</td>`
	if html := string(e.page("/insights?team=payments").body); html == beforeHTML || !strings.Contains(html, row) {
		t.Errorf("the page did not follow the write: %s", html)
	}
	if w := after.Burndown[len(after.Burndown)-1]; w.Finished != 1 || w.Unfinished != 2 {
		t.Errorf("this week after a write: %+v", w)
	}
	if now := string(e.page("/owners?format=json").body); now == owners || strings.Contains(now, `"email":"bob@acme.com"`) {
		t.Errorf("owners did not follow the write:\n%s\nbefore\n%s", now, owners)
	}
	// Midnight: PM-1's I3 (P2, due by default 2026-12-28) falls overdue on the 29th.
	e.clock.Set(time.Date(2026, 12, 29, 0, 0, 0, 0, time.UTC))
	late := insightsJSON(t, e.page("/insights?format=json&team=payments"))
	if got := late.ages(); !slices.Equal(got, []string{"under 7 days 1", "7–27 days 0", "28–89 days 1", "90 days or more 0"}) {
		t.Errorf("overdue on 12-29 %q", got)
	}
	if got := late.Burndown[len(late.Burndown)-1].Week; got != "2026-12-28" {
		t.Errorf("the burn-down ends in the week of %s", got)
	}
}

var (
	svgOpen  = regexp.MustCompile(`<svg class="chart"[^>]*aria-label="([^"]+)"[^>]*>`)
	svgTitle = regexp.MustCompile(`<title id="(chart-[a-z-]+)-title">([^<]+)</title>`)
)

func TestInsightsPageHTML(t *testing.T) {
	e := newEnv(t, testConfig)
	seedOwners(t, e)
	r := e.page("/insights?team=&severity=")
	if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	checkPageHeaders(t, r)
	body := string(r.body)
	if got := len(svgOpen.FindAllString(body, -1)); got != 4 {
		t.Errorf("%d charts with an aria-label, want 4", got)
	}
	var ids []string
	for _, m := range svgTitle.FindAllStringSubmatch(body, -1) {
		ids = append(ids, m[1])
	}
	if want := []string{"chart-burndown", "chart-on-time", "chart-days-to-done", "chart-overdue"}; !slices.Equal(ids, want) {
		t.Errorf("chart titles %v, want %v", ids, want)
	}
	for _, want := range []string{`id="table-burndown"`, `id="table-on-time"`, `id="table-days-to-done"`, `id="table-overdue"`,
		`class="line-unfinished"`, `class="bar-created"`, `class="bar-finished"`,
		"but as on time only when it was closed before its due date",
		`href="/insights?format=json"`} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	// Authors' text is text: the team in the table and in the chart.
	if strings.Contains(body, "<b>ops") || strings.Count(body, "&lt;b&gt;ops&lt;/b&gt;") < 3 {
		t.Errorf("the team is not escaped everywhere:\n%s", body)
	}
	if strings.Contains(body, "<script") {
		t.Errorf("the page has a script")
	}
	// The form keeps the filters, escaped.
	r = e.page("/insights?team=%22%3E%3Cscript%3E&since=2026-11-02")
	if body := string(r.body); strings.Contains(body, "<script") || !strings.Contains(body, `value="&#34;&gt;&lt;script&gt;"`) ||
		!strings.Contains(body, `name="since" value="2026-11-02"`) || !strings.Contains(body, `href="/insights?format=json&amp;since=2026-11-02&amp;team=%22%3E%3Cscript%3E"`) {
		t.Errorf("the form does not keep the filters, escaped:\n%s", body)
	}
	// Nothing at all: every chart says so.
	empty := newEnv(t, testConfig)
	body = string(empty.page("/insights").body)
	if got := len(svgOpen.FindAllString(body, -1)); got != 4 || strings.Count(body, "No action items match.") < 3 {
		t.Errorf("an empty store's page: %s", body)
	}
}

func TestInsightsAndOwnersAccess(t *testing.T) {
	public := newEnv(t, testConfig)
	private := newEnv(t, privatePageConfig)
	for _, path := range []string{"/insights", "/insights?format=json", "/owners", "/owners?format=json", "/owners/bob@acme.com"} {
		t.Run(path, func(t *testing.T) {
			if r := public.page(path); r.status != http.StatusOK {
				t.Errorf("public: %d", r.status)
			}
			r := private.page(path)
			if r.status != http.StatusUnauthorized || r.header.Get("WWW-Authenticate") == "" {
				t.Errorf("private without a token: %d %q", r.status, r.header.Get("WWW-Authenticate"))
			}
			checkPageHeaders(t, r)
			r = private.page(path, "Authorization", "Bearer "+testToken)
			if r.status != http.StatusOK || r.header.Get("Cache-Control") != "no-store" {
				t.Errorf("private with the token: %d, Cache-Control %q", r.status, r.header.Get("Cache-Control"))
			}
		})
	}
}
