module github.com/onus-sec/onus

go 1.26.8

require (
	github.com/buger/jsonparser v1.6.1 // indirect
	github.com/goccy/go-yaml v1.19.2 // indirect
)
