// Package core holds suanli's domain types: centers, nodes, the accelerator
// catalog, organizations, jobs, money and coded errors. It imports nothing of
// ours and no storage, HTTP or SQL package, so every other package can share
// it without cycles.
package core
