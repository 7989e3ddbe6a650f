package jirafake

import (
	"fmt"
	"strings"
	"time"
	"unicode"
)

// query is a parsed JQL query, as far as the fake understands JQL: clauses on project, labels,
// updated and created joined by AND, and ORDER BY updated or created.
type query struct {
	clauses []clause
	orderBy string // "updated" or "created"; empty: by id, newest first
	desc    bool
}

type clause struct {
	field string // project, labels, updated, created
	op    string // =, >=, >, <=, <
	value string
	at    time.Time // for updated and created
}

type jqlToken struct {
	text   string
	quoted bool
}

func tokenizeJQL(s string) ([]jqlToken, error) {
	var toks []jqlToken
	r := []rune(s)
	for i := 0; i < len(r); {
		c := r[i]
		switch {
		case unicode.IsSpace(c):
			i++
		case c == '"' || c == '\'':
			var b strings.Builder
			j := i + 1
			for ; j < len(r) && r[j] != c; j++ {
				if r[j] == '\\' && j+1 < len(r) {
					j++
				}
				b.WriteRune(r[j])
			}
			if j >= len(r) {
				return nil, fmt.Errorf("the quoted string starting at character %d is not closed", i+1)
			}
			toks = append(toks, jqlToken{text: b.String(), quoted: true})
			i = j + 1
		case strings.ContainsRune("=<>!", c):
			j := i + 1
			if j < len(r) && r[j] == '=' {
				j++
			}
			toks = append(toks, jqlToken{text: string(r[i:j])})
			i = j
		case strings.ContainsRune("(),~", c):
			return nil, fmt.Errorf("the character '%c' at position %d is not supported by this server", c, i+1)
		default:
			j := i
			for j < len(r) && !unicode.IsSpace(r[j]) && !strings.ContainsRune("=<>!\"'(),~", r[j]) {
				j++
			}
			toks = append(toks, jqlToken{text: string(r[i:j])})
			i = j
		}
	}
	return toks, nil
}

// parseJQL parses the JQL the connector sends. Times are read in loc, the user's time zone,
// as Jira does.
func parseJQL(s string, loc *time.Location) (*query, error) {
	toks, err := tokenizeJQL(s)
	if err != nil {
		return nil, err
	}
	q := &query{}
	i := 0
	kw := func(word string) bool {
		return i < len(toks) && !toks[i].quoted && strings.EqualFold(toks[i].text, word)
	}
	for i < len(toks) && !kw("order") {
		if len(q.clauses) > 0 {
			if !kw("and") {
				return nil, fmt.Errorf("expecting 'AND' or 'ORDER BY' but got '%s'", toks[i].text)
			}
			i++
		}
		if i+2 >= len(toks) {
			return nil, fmt.Errorf("incomplete clause at the end of the query")
		}
		field := strings.ToLower(toks[i].text)
		op, val := toks[i+1], toks[i+2]
		if op.quoted || !strings.ContainsAny(op.text, "=<>!") {
			return nil, fmt.Errorf("expecting an operator after '%s'", toks[i].text)
		}
		c := clause{field: field, op: op.text, value: val.text}
		switch field {
		case "project", "labels":
			if c.op != "=" {
				return nil, fmt.Errorf("the operator '%s' is not supported by this server for the field '%s'", c.op, field)
			}
		case "updated", "created":
			switch c.op {
			case ">=", ">", "<=", "<":
			default:
				return nil, fmt.Errorf("the operator '%s' is not supported by this server for the field '%s'", c.op, field)
			}
			at, err := parseJQLTime(c.value, loc)
			if err != nil {
				return nil, fmt.Errorf("date value '%s' for field '%s' is invalid. Valid formats include: 'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd'", c.value, field)
			}
			c.at = at
		default:
			return nil, fmt.Errorf("field '%s' is not supported by this server", toks[i].text)
		}
		q.clauses = append(q.clauses, c)
		i += 3
	}
	if kw("order") {
		i++
		if !kw("by") {
			return nil, fmt.Errorf("expecting 'BY' after 'ORDER'")
		}
		i++
		if i >= len(toks) {
			return nil, fmt.Errorf("expecting a field after 'ORDER BY'")
		}
		q.orderBy = strings.ToLower(toks[i].text)
		if q.orderBy != "updated" && q.orderBy != "created" {
			return nil, fmt.Errorf("ordering by '%s' is not supported by this server", toks[i].text)
		}
		i++
		q.desc = false
		if kw("desc") {
			q.desc = true
			i++
		} else if kw("asc") {
			i++
		}
	}
	if i < len(toks) {
		return nil, fmt.Errorf("unexpected '%s' at the end of the query", toks[i].text)
	}
	return q, nil
}

func parseJQLTime(v string, loc *time.Location) (time.Time, error) {
	for _, layout := range []string{"2006/01/02 15:04", "2006-01-02 15:04", "2006/01/02", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, v, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("bad date %q", v)
}

func (q *query) match(is *issue) bool {
	for _, c := range q.clauses {
		switch c.field {
		case "project":
			if !strings.EqualFold(is.Project, c.value) {
				return false
			}
		case "labels":
			found := false
			for _, l := range is.Labels {
				if strings.EqualFold(l, c.value) {
					found = true
				}
			}
			if !found {
				return false
			}
		case "updated", "created":
			t := is.Updated
			if c.field == "created" {
				t = is.Created
			}
			// JQL compares at minute precision.
			t = t.Truncate(time.Minute)
			ok := false
			switch c.op {
			case ">=":
				ok = !t.Before(c.at)
			case ">":
				ok = t.After(c.at)
			case "<=":
				ok = !t.After(c.at)
			case "<":
				ok = t.Before(c.at)
			}
			if !ok {
				return false
			}
		}
	}
	return true
}
