package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

var (
	domTableRow  = regexp.MustCompile(`(?s)<tr>(.*?)</tr>`)
	domTableCell = regexp.MustCompile(`(?s)<t[hd][^>]*>(.*?)</t[hd]>`)
	domTag       = regexp.MustCompile(`<[^>]+>`)
	domChart     = regexp.MustCompile(`(?s)<svg class="chart"(.*?)</svg>`)
	domPoints    = regexp.MustCompile(`<polyline points="([^"]*)"`)
	domRect      = regexp.MustCompile(`<rect x="[^"]+" y="[^"]+" width="([^"]+)" height="([^"]+)"`)
	domOwedRow   = regexp.MustCompile(`<tr id="item-([^"]+)" class="owed-item`)
)

// domTable is the body rows of the table with the id in a rendered DOM, each as its cells'
// text.
func domTable(t *testing.T, dom, id string) [][]string {
	t.Helper()
	start := strings.Index(dom, `id="`+id+`"`)
	if start < 0 {
		t.Fatalf("no table %s", id)
	}
	table := dom[start:]
	table = table[:strings.Index(table, "</table>")]
	table = table[strings.Index(table, "<tbody>"):]
	var rows [][]string
	for _, row := range domTableRow.FindAllStringSubmatch(table, -1) {
		var cells []string
		for _, cell := range domTableCell.FindAllStringSubmatch(row[1], -1) {
			cells = append(cells, strings.TrimSpace(html.UnescapeString(domTag.ReplaceAllString(cell[1], ""))))
		}
		rows = append(rows, cells)
	}
	return rows
}

// TestInsightsInBrowser renders /insights and the owners' pages in headless Chromium: every
// chart is drawn, each table beside a chart holds the figures ?format=json gives, and an
// owner's page lists exactly their unfinished items.
func TestInsightsInBrowser(t *testing.T) {
	chromium := requireChromium(t)
	e := newEnv(t, testConfig)
	seedOwners(t, e)
	shots := os.Getenv("FT_PAGE_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	}

	t.Run("insights", func(t *testing.T) {
		dom := string(browse(t, chromium, e.url+"/insights", "--dump-dom"))
		if strings.Contains(dom, "<script") || strings.Contains(dom, "<b>ops") {
			t.Errorf("the page runs or renders author text as HTML")
		}
		charts := domChart.FindAllStringSubmatch(dom, -1)
		if len(charts) != 4 {
			t.Fatalf("%d charts, want 4", len(charts))
		}
		for i, c := range charts {
			svg := c[1]
			if !strings.Contains(svg, `role="img"`) || !regexp.MustCompile(`aria-label="[^"]+"`).MatchString(svg) ||
				!regexp.MustCompile(`<title id="[^"]+">[^<]+</title>`).MatchString(svg) {
				t.Errorf("chart %d has no text alternative:\n%s", i, svg)
			}
			drawn := false
			for _, m := range domRect.FindAllStringSubmatch(svg, -1) {
				w, _ := strconv.ParseFloat(m[1], 64)
				h, _ := strconv.ParseFloat(m[2], 64)
				drawn = drawn || (w > 0 && h > 0)
			}
			for _, m := range domPoints.FindAllStringSubmatch(svg, -1) {
				drawn = drawn || len(strings.Fields(m[1])) > 1
			}
			if !drawn {
				t.Errorf("chart %d draws nothing:\n%s", i, svg)
			}
		}

		b := insightsJSON(t, e.page("/insights?format=json"))
		var weeks, teams, days, ages [][]string
		for _, w := range b.Burndown {
			weeks = append(weeks, []string{w.Week, strconv.Itoa(w.Created), strconv.Itoa(w.Finished), strconv.Itoa(w.Reopened), strconv.Itoa(w.Unfinished)})
		}
		for _, tm := range b.OnTime {
			share := "—"
			if tm.Share != nil {
				share = fmt.Sprintf("%d%%", tm.OnTime*100/tm.Finished)
			}
			teams = append(teams, []string{teamName(tm.Team), strconv.Itoa(tm.Items), strconv.Itoa(tm.Finished), strconv.Itoa(tm.OnTime), share})
		}
		for _, d := range b.DaysToDone {
			median := "—"
			if d.MedianDays != nil {
				median = strconv.FormatFloat(*d.MedianDays, 'f', 1, 64)
			}
			days = append(days, []string{d.Priority, strconv.Itoa(d.Done), median})
		}
		for _, a := range b.OverdueByAge {
			ages = append(ages, []string{a.Age, strconv.Itoa(a.Items)})
		}
		for _, tc := range []struct {
			id   string
			want [][]string
		}{{"table-burndown", weeks}, {"table-on-time", teams}, {"table-days-to-done", days}, {"table-overdue", ages}} {
			if len(tc.want) == 0 {
				t.Fatalf("%s: the JSON has no figures", tc.id)
			}
			if got := domTable(t, dom, tc.id); !slices.EqualFunc(got, tc.want, slices.Equal) {
				t.Errorf("%s shows\n%q\nthe JSON says\n%q", tc.id, got, tc.want)
			}
		}
		if t.Failed() {
			t.Logf("DOM:\n%s", dom)
		}
	})

	t.Run("owners", func(t *testing.T) {
		for _, tc := range []struct {
			path string
			want []string
		}{
			{"/owners/BOB@acme.com", []string{"PM-1-I2"}},
			{"/owners/platform%20%2F%20sre%3F%23team", []string{"PM-2-I1"}},
			{"/owners/erin@acme.com", nil},
		} {
			dom := string(browse(t, chromium, e.url+tc.path, "--dump-dom"))
			var got []string
			for _, m := range domOwedRow.FindAllStringSubmatch(dom, -1) {
				got = append(got, m[1])
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("%s lists %v, want %v", tc.path, got, tc.want)
			}
			var owes ownerJSON
			if err := json.Unmarshal(e.page(tc.path+"?format=json").body, &owes); err != nil {
				t.Fatal(err)
			}
			var fromJSON []string
			for _, it := range owes.Items {
				fromJSON = append(fromJSON, it.PostmortemID+"-"+it.ID)
			}
			if !slices.Equal(got, fromJSON) {
				t.Errorf("%s lists %v, its JSON %v", tc.path, got, fromJSON)
			}
		}
	})

	t.Run("screenshot", func(t *testing.T) {
		file := filepath.Join(shots, "insights.png")
		browse(t, chromium, e.url+"/insights", "--screenshot="+file, "--window-size=1280,1600")
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatalf("no screenshot: %v", err)
		}
		if len(b) < 1000 || !bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) {
			t.Fatalf("screenshot is not a PNG (%d bytes)", len(b))
		}
	})
}
