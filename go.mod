module github.com/temporalauth/temporalauth

go 1.26.0
