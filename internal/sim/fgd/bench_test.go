package fgd

import "testing"

// BenchmarkReplay is one full replay of the `default` trace (10,866 pods on
// 1,213 nodes, seed 42) per policy.
func BenchmarkReplay(b *testing.B) {
	d := loadDefault(b)
	for _, p := range Policies {
		b.Run(string(p), func(b *testing.B) {
			for b.Loop() {
				if _, err := Replay(d.nodes, d.pods, Config{Policy: p, Seed: 42, Tune: 1.3}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPaperGrid is the paper's whole `default` grid: six policies × ten
// seeds, one goroutine, discretised and summarised as the CLI does.
func BenchmarkPaperGrid(b *testing.B) {
	d := loadDefault(b)
	for b.Loop() {
		for _, p := range Policies {
			if _, err := ReplaySeeds(d.nodes, d.pods, p, 1.3, paperSeeds, 1); err != nil {
				b.Fatal(err)
			}
		}
	}
}
