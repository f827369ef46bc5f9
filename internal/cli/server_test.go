package cli

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/suanli/suanli/internal/server"
)

// cliServer starts a server with the demo network for a CLI test (closed
// when the test ends) and returns it with a runner that points the CLI at
// it with a token.
func cliServer(t *testing.T) (*server.Server, func(tok string, args ...string) (string, string, int)) {
	t.Helper()
	s, err := server.Open(context.Background(), server.Config{DataDir: t.TempDir(), Addr: "127.0.0.1:0",
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), LoopInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, func(tok string, args ...string) (string, string, int) {
		t.Helper()
		return runCLI(t, append([]string{"--server", s.URL, "--token", tok}, args...)...)
	}
}

// succeeded fails the test unless a command exited 0, and returns its
// output.
func succeeded(t *testing.T) func(out, errOut string, code int) string {
	return func(out, errOut string, code int) string {
		t.Helper()
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		return out
	}
}
