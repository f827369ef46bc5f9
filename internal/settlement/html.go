package settlement

import (
	"bytes"
	"embed"
	"html/template"
	"io"
	"time"

	"github.com/suanli/suanli/internal/core"
)

//go:embed templates/*.html
var templateFS embed.FS

var htmlFuncs = template.FuncMap{
	"yuan":  func(m core.Micros) string { return m.Yuan() },
	"exact": func(m core.Micros) string { return m.Exact() },
	"bps":   FormatBPS,
	"milli": FormatMilli,
	"day":   func(t time.Time) string { return t.In(Zone).Format("2006-01-02") },
	"last":  func(t time.Time) string { return t.Add(-time.Millisecond).In(Zone).Format("2006-01-02") },
	"inc":   func(i int) int { return i + 1 },
	"price": func(l Line) string { return unitPrice(l) },
}

var invoiceTmpl = template.Must(template.New("invoice.html").Funcs(htmlFuncs).ParseFS(templateFS, "templates/invoice.html"))

// WriteInvoiceHTML writes a printable, self-contained HTML page of an
// invoice and statement (Chinese, with English labels; print CSS for A4).
// It renders into a buffer first, so a template error writes nothing.
func WriteInvoiceHTML(w io.Writer, inv Invoice) error {
	var buf bytes.Buffer
	if err := invoiceTmpl.Execute(&buf, inv); err != nil {
		return err
	}
	_, err := w.Write(buf.Bytes())
	return err
}
