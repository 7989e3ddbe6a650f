package web

import (
	"net/http"
	"strconv"
	"sync"

	"github.com/labstack/echo/v4"
	"golang.org/x/sync/singleflight"
)

// maxCachedFigures bounds the figure cache: one entry per page and filter asked for since the
// database last changed.
const maxCachedFigures = 64

// figureCache keeps the figures of /insights and /owners while the database is unchanged.
// Computing them reads every item (hundreds of milliseconds with 50,000 items); between writes
// the answer cannot differ, so it is computed once. An entry is keyed by its page, its filter
// and the UTC day it was computed for (the figures change at midnight, when items fall
// overdue, and with nothing else of the clock); the whole cache is dropped when the store's
// change count moves, so an answer is never older than the last commit before the request.
// Requests that miss together wait for one computation.
type figureCache struct {
	mu      sync.Mutex
	changes int64 // the store's ChangeCount that the entries were computed at
	entries map[string]any
	compute singleflight.Group
}

// get returns the figures under key, computing them with fn when the cache does not hold them
// for the store's current change count.
func (c *figureCache) get(key string, changes int64, fn func() (any, error)) (any, error) {
	c.mu.Lock()
	if c.changes != changes || c.entries == nil {
		c.changes, c.entries = changes, map[string]any{}
	}
	v, ok := c.entries[key]
	c.mu.Unlock()
	if ok {
		return v, nil
	}
	v, err, _ := c.compute.Do(strconv.FormatInt(changes, 10)+" "+key, fn)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	// Figures computed while a write committed may already hold it; they are kept only under
	// the count they started at, which the next request no longer matches.
	if c.changes == changes {
		if len(c.entries) >= maxCachedFigures {
			clear(c.entries)
		}
		c.entries[key] = v
	}
	return v, nil
}

// cachedPage answers a page from the figure cache. figures computes the page's figures, once
// for HTML and JSON alike; render turns them into the body of the request's format, once per
// format. Both stay cached under key until the database changes.
func (s *Server) cachedPage(c echo.Context, key, format string, figures func() (any, error), render func(figures any) ([]byte, error)) error {
	changes := s.reader.ChangeCount()
	body, err := s.figures.get(key+" "+format, changes, func() (any, error) {
		v, err := s.figures.get(key, changes, figures)
		if err != nil {
			return nil, err
		}
		return render(v)
	})
	if err != nil {
		return err
	}
	if format == formatJSON {
		return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, body.([]byte))
	}
	return c.HTMLBlob(http.StatusOK, body.([]byte))
}
