package server

import "net/http"

// mountConsole mounts the web console at /.
func mountConsole(mux *http.ServeMux, s *Server, cfg Config) {}
