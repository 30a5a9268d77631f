module github.com/temporalauth/temporalauth/bench

go 1.26.0

require (
	cloud.google.com/go/auth v0.24.3
	github.com/golang-jwt/jwt/v5 v5.3.1
	github.com/temporalauth/temporalauth v0.0.0
	go.uber.org/goleak v1.3.0
	golang.org/x/oauth2 v0.37.0
)

require (
	cloud.google.com/go/compute/metadata v0.10.0 // indirect
	github.com/googleapis/gax-go/v2 v2.27.0 // indirect
	golang.org/x/net v0.61.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
	golang.org/x/text v0.43.0 // indirect
	google.golang.org/genproto/googleapis/rpc v0.0.0-20261012220534-4341edf3f941 // indirect
	google.golang.org/grpc v1.84.0 // indirect
	google.golang.org/protobuf v1.36.12 // indirect
)

replace github.com/temporalauth/temporalauth => ../
