module github.com/flagwire/flagwire/tools/goproxydir

go 1.24

require golang.org/x/mod v0.27.0
