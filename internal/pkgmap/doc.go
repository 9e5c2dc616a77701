// Package pkgmap holds the test that keeps the README's package map true:
// every package of the module has a row, and imports only what its row
// lists. It has no code of its own.
package pkgmap
