module github.com/npw-dev/npw

go 1.26.8
