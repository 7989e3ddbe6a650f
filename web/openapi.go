package web

import (
	_ "embed"
	"net/http"

	"github.com/labstack/echo/v4"
)

// openAPIDocument is the OpenAPI 3.0 description of the /v1 API and of the tracker webhooks'
// answers, served at GET /openapi.yaml. The tests check every answer they get from those
// endpoints against it (internal/openapitest), so it says what the code does.
//
//go:embed openapi.yaml
var openAPIDocument []byte

// openAPI is GET /openapi.yaml: public, like any API description.
func (s *Server) openAPI(c echo.Context) error {
	return c.Blob(http.StatusOK, "application/yaml; charset=utf-8", openAPIDocument)
}
