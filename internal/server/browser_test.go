package server

import (
	"testing"

	"github.com/suanli/suanli/internal/console/browsertest"
)

// TestConsoleInBrowser opens the real server's console in headless Chromium:
// login, the seeded demo centers, the chart, both languages.
func TestConsoleInBrowser(t *testing.T) {
	browsertest.SkipUnlessBrowser(t)
	s := openTest(t, t.TempDir())
	defer s.Close()
	browsertest.Check(t, s.URL, s.Credentials.Operator.Token,
		[]string{"北京门头沟昇腾公共算力中心", "宜昌先进计算中心", "上海金山智能算力中心", "本机 (this machine)"})
}
