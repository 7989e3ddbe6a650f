package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	ft "github.com/followthrough/followthrough"
	"github.com/followthrough/followthrough/config"
)

// FuzzDecodeValidate feeds arbitrary bodies to the intake decoder, validator and router: nothing
// panics; a failed decode is a 400 or a 422; Normalize is idempotent; a valid document survives
// being encoded and decoded again with the same hash (what redelivery detection relies on); and
// routing either gives every item a complete target or names the items it cannot place.
func FuzzDecodeValidate(f *testing.F) {
	cfg, err := config.Parse(filepath.Join(f.TempDir(), "config.yaml"), []byte(testConfig))
	if err != nil {
		f.Fatal(err)
	}
	router := cfg.Router()

	f.Add([]byte(sampleJSON))
	f.Add([]byte(`{"id":"PM-1","title":"t","status":"finalized","signed_off_by":["a"],"action_items":[]}`))
	f.Add([]byte(`{"id":"PM-1","title":"t","status":"finalized","signed_off_by":["a"],"team":"x","action_items":[{"id":"a","title":"t","owner":"o","labels":["security"]}]}`))
	f.Add([]byte(`{"id":"PM-1","title":"t","status":"draft","signed_off_by":[],"action_items":null}`))
	f.Add([]byte(`{"id":"x","signed_off_at":"2026-11-22T11:00:00.123456789+05:30","incident":{"started_at":"0000-01-01T00:00:00+01:00"}}`))
	f.Add([]byte(`{"ID":"a","id":1,"action_items":[{"labels":[" "," x "]}]}`))
	f.Add([]byte(`{"tracker":{"kind":"github","repo":"a/b","number":3},"action_items":[{"tracker":{"kind":"jira","project":"P"}}]}`))
	f.Add([]byte("{\"title\":\"\\ud800\\u2028<>&\"}"))
	f.Add([]byte(`[1,2]`))
	f.Add([]byte("{\"id\":\"\xff\"}"))
	f.Add([]byte(`{} {}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		d, err := ft.DecodeDocument(body)
		if err != nil {
			var se *ft.ShapeError
			if !errors.Is(err, ft.ErrMalformed) && !errors.As(err, &se) {
				t.Fatalf("unexpected error type %T: %v", err, err)
			}
			if status, _ := errorResponse(err); status != http.StatusBadRequest && status != http.StatusUnprocessableEntity {
				t.Fatalf("decode error answered %d: %v", status, err)
			}
			return
		}
		d.Normalize(ft.TicketSites{})
		problems := d.Validate()
		h := d.Hash()
		d.Normalize(ft.TicketSites{})
		if d.Hash() != h {
			t.Fatal("Normalize is not idempotent")
		}
		if len(problems) > 0 {
			for _, p := range problems {
				if p.Field == "" || p.Message == "" {
					t.Fatalf("empty field error: %+v", p)
				}
			}
			return
		}

		b, err := json.Marshal(d)
		if err != nil {
			t.Fatalf("a valid document does not encode: %v", err)
		}
		d2, err := ft.DecodeDocument(b)
		if err != nil {
			t.Fatalf("a valid document does not decode again: %v\n%s", err, b)
		}
		d2.Normalize(ft.TicketSites{})
		if problems := d2.Validate(); len(problems) != 0 {
			t.Fatalf("valid document invalid after re-encoding: %v\n%s", problems, b)
		}
		if d2.Hash() != h {
			t.Fatalf("hash changed after re-encoding:\n%s", b)
		}

		for i, it := range d.ActionItems {
			tg, err := router.Route(d, it)
			if err != nil {
				if !strings.Contains(err.Error(), fmt.Sprintf("%q", it.ID)) {
					t.Fatalf("routing problem %v does not name its item", err)
				}
				continue
			}
			switch {
			case tg.Kind == ft.GitHub && tg.Repo != "" && tg.Project == "":
			case tg.Kind == ft.Jira && tg.Project != "" && tg.IssueType != "" && tg.Repo == "":
			default:
				t.Fatalf("item %d has an incomplete target %+v", i, tg)
			}
		}
	})
}
