module github.com/sealpost/sealpost

go 1.26.0

require (
	github.com/ProtonMail/go-crypto v1.5.2
	github.com/pkg/sftp v1.13.12
	github.com/robfig/cron/v3 v3.0.1
	go.yaml.in/yaml/v3 v3.0.6
	golang.org/x/crypto v0.59.0
	golang.org/x/text v0.44.0
)

require (
	github.com/cloudflare/circl v1.6.3 // indirect
	github.com/kr/fs v0.1.0 // indirect
	golang.org/x/sys v0.50.0 // indirect
)
