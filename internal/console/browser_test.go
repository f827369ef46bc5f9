package console

import (
	"net/http/httptest"
	"testing"

	"github.com/suanli/suanli/internal/console/browsertest"
)

// TestConsoleInBrowser drives the console in headless Chromium against the
// fake source. It is skipped only when CI is unset and Chromium is missing;
// on CI a missing browser is a failure.
func TestConsoleInBrowser(t *testing.T) {
	browsertest.SkipUnlessBrowser(t)
	srv := httptest.NewServer(New(newFake(), fixedNow))
	defer srv.Close()
	browsertest.Check(t, srv.URL, tokOperator, []string{"宜昌百度智算中心", "宜昌超算中心", "本机 (this machine)"})
}
