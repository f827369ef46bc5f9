package server

import (
	"context"
	"net/http"

	"github.com/suanli/suanli/internal/console"
	"github.com/suanli/suanli/internal/executor"
	"github.com/suanli/suanli/internal/store/sqlstore"
)

// consoleSource adds log reading to the store for the console.
type consoleSource struct {
	*sqlstore.Store
	dataDir string
}

func (s consoleSource) JobLogs(ctx context.Context, id string) (string, error) {
	j, err := s.Job(ctx, id)
	if err != nil {
		return "", err
	}
	return executor.ReadLogs(s.dataDir, j.ID, len(j.Spec.Replicas))
}

// mountConsole mounts the web console at /; unknown /api/ paths get a JSON
// 404 instead of the console's HTML.
func mountConsole(mux *http.ServeMux, s *Server, cfg Config) {
	mux.Handle("/", console.New(consoleSource{Store: s.Store, dataDir: cfg.DataDir}, s.Store.Now).WithLogger(cfg.Log))
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"status":404,"code":"not_found","message":"no such API path"}` + "\n")) // client gone is not our error
	})
}
