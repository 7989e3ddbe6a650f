package load

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// jsonTemplate is a JSON document compiled once with named slots and rendered many times by
// concatenation: building a 10 KB webhook body per request with encoding/json would cost the
// load generator more CPU than the server spends answering it.
type jsonTemplate struct {
	parts [][]byte // len(slots)+1 pieces of the document between the slots
	slots []string
}

const slotMark = "@@ftload:"

// slot is the placeholder that marks a slot named name in a document before it is compiled.
func slot(name string) string { return slotMark + name + "@@" }

// compileTemplate marshals doc, in which some string values are slot(name), and cuts it at
// every slot.
func compileTemplate(doc any) (*jsonTemplate, error) {
	raw, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("compile payload template: %w", err)
	}
	open := []byte(`"` + slotMark)
	t := &jsonTemplate{}
	for {
		i := bytes.Index(raw, open)
		if i < 0 {
			t.parts = append(t.parts, raw)
			return t, nil
		}
		rest := raw[i+len(open):]
		j := bytes.Index(rest, []byte(`@@"`))
		if j < 0 {
			return nil, fmt.Errorf("compile payload template: unterminated slot at byte %d", i)
		}
		t.parts = append(t.parts, raw[:i])
		t.slots = append(t.slots, string(rest[:j]))
		raw = rest[j+len(`@@"`):]
	}
}

// render appends the document to dst with each slot replaced by its value, which must be
// raw JSON (a quoted string, a number, an object, null). A slot without a value is null.
func (t *jsonTemplate) render(dst []byte, values map[string][]byte) []byte {
	for i, name := range t.slots {
		dst = append(dst, t.parts[i]...)
		if v, ok := values[name]; ok {
			dst = append(dst, v...)
		} else {
			dst = append(dst, "null"...)
		}
	}
	return append(dst, t.parts[len(t.parts)-1]...)
}

// jsonText is s as a JSON string.
func jsonText(s string) []byte {
	b, _ := json.Marshal(s) // a string always marshals
	return b
}

// setPath sets the value at a dotted path of nested JSON objects, e.g. "issue.user.login".
func setPath(doc map[string]any, path string, v any) error {
	keys := strings.Split(path, ".")
	m := doc
	for _, k := range keys[:len(keys)-1] {
		next, ok := m[k].(map[string]any)
		if !ok {
			return fmt.Errorf("payload template: %s: %q is not an object", path, k)
		}
		m = next
	}
	m[keys[len(keys)-1]] = v
	return nil
}

// setPaths sets each path to its value; see setPath.
func setPaths(doc map[string]any, values map[string]any) error {
	for path, v := range values {
		if err := setPath(doc, path, v); err != nil {
			return err
		}
	}
	return nil
}
