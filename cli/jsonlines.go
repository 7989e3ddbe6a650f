package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	ft "github.com/followthrough/followthrough"
)

// fieldLines is where each field of a JSON document starts, by its path as the validator names
// it ("action_items[2].owner"), so that lint can say on which line a problem is.
type fieldLines struct {
	paths    map[string]int // path -> byte offset
	newlines []int          // offsets of '\n'
}

// jsonLines indexes a JSON body; a body that is not JSON indexes as far as it can be read.
func jsonLines(body []byte) fieldLines {
	fl := fieldLines{paths: map[string]int{}}
	for i, c := range body {
		if c == '\n' {
			fl.newlines = append(fl.newlines, i)
		}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	_ = fl.walk(dec, "")
	return fl
}

// walk reads one value at path. Keys are lower-cased: the decoder matches them without regard
// to case, and the validator names them in lower case.
func (fl fieldLines) walk(dec *json.Decoder, path string) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if _, seen := fl.paths[path]; !seen && path != "" {
		fl.paths[path] = int(dec.InputOffset()) - 1
	}
	switch tok {
	case json.Delim('{'):
		for dec.More() {
			key, err := dec.Token()
			if err != nil {
				return err
			}
			k, _ := key.(string)
			p := strings.ToLower(k)
			if path != "" {
				p = path + "." + p
			}
			// A repeated key's last value is the one decoded.
			fl.paths[p] = int(dec.InputOffset()) - 1
			if err := fl.walk(dec, p); err != nil {
				return err
			}
		}
		_, err = dec.Token()
	case json.Delim('['):
		for i := 0; dec.More(); i++ {
			if err := fl.walk(dec, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		_, err = dec.Token()
	}
	return err
}

// lineAt is the 1-based line of a byte offset.
func (fl fieldLines) lineAt(offset int) int {
	return sort.SearchInts(fl.newlines, offset) + 1
}

// line is the line of a field, or of the nearest enclosing field that is in the document.
func (fl fieldLines) line(field string) int {
	if off, ok := ft.NearestField(fl.paths, field); ok {
		return fl.lineAt(off)
	}
	return 1
}

// syntaxErrorLine is the line where a body stops being JSON, 1 when that cannot be told.
func (fl fieldLines) syntaxErrorLine(body []byte) int {
	var v any
	var se *json.SyntaxError
	if err := json.Unmarshal(body, &v); errors.As(err, &se) {
		return fl.lineAt(int(se.Offset) - 1)
	}
	return 1
}
