package web

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"

	"github.com/labstack/echo/v4"

	ft "github.com/followthrough/followthrough"
)

// errNoEngine is the answer of the write endpoints when the server was built without an
// Engine.
var errNoEngine = unavailable("writes are not available: this server has no engine")

// patchItem is PATCH /v1/postmortems/{id}/items/{item_id} with {"status": "..."}. The bearer
// token is checked first (middleware), then the content type and size, then the body is decoded
// strictly: status is the only field. It answers with the bare item.
func (s *Server) patchItem(c echo.Context) error {
	if s.engine == nil {
		return errNoEngine
	}
	body, err := readAPIBody(c)
	if err != nil {
		return err
	}
	status, err := decodeStatusPatch(body)
	if err != nil {
		return err
	}
	pmID, err := idParam(c, "id", "postmortem")
	if err != nil {
		return err
	}
	itemID, err := idParam(c, "item_id", "item")
	if err != nil {
		return err
	}
	item, err := s.engine.SetItemStatus(c.Request().Context(), pmID, itemID, status)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, item)
}

// retryPostmortem is POST /v1/postmortems/{id}/retry: every item with sync: failed is tried
// again. Any body is ignored. It answers with the postmortem.
func (s *Server) retryPostmortem(c echo.Context) error {
	if s.engine == nil {
		return errNoEngine
	}
	id, err := idParam(c, "id", "postmortem")
	if err != nil {
		return err
	}
	pm, err := s.engine.Retry(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, pm)
}

// decodeStatusPatch reads a PATCH body: one JSON object whose only key is "status", a string
// naming an item status. Malformed JSON is 400; an object that is not that is 422 with the
// offending fields named.
func decodeStatusPatch(body []byte) (ft.Status, error) {
	raw, err := ft.DecodeJSON(body)
	if err != nil {
		return "", fmt.Errorf(`%w; send {"status": "done"}`, err)
	}
	var obj map[string]json.RawMessage
	if raw[0] != '{' || json.Unmarshal(raw, &obj) != nil {
		return "", invalid(`the body must be a JSON object: {"status": "done"}`, nil)
	}
	var fields []ft.FieldError
	for _, k := range slices.Sorted(maps.Keys(obj)) {
		if k != "status" {
			fields = append(fields, ft.FieldError{Field: k, Message: "unknown field: only status can be changed"})
		}
	}
	var status string
	switch v, ok := obj["status"]; {
	case !ok || string(v) == "null":
		fields = append(fields, ft.FieldError{Field: "status", Message: "required: open, in_progress, done or wont_do"})
	case json.Unmarshal(v, &status) != nil:
		fields = append(fields, ft.FieldError{Field: "status", Message: "must be a string: open, in_progress, done or wont_do"})
	case !ft.Status(status).Valid():
		fields = append(fields, ft.FieldError{Field: "status",
			Message: fmt.Sprintf("unknown status %q: use open, in_progress, done or wont_do", status)})
	}
	if len(fields) > 0 {
		return "", invalid("the change is not acceptable", fields)
	}
	return ft.Status(status), nil
}
