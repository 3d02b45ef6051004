// composecheck loads compose files the way Docker Compose does (compose-go: the compose-spec schema,
// interpolation, then references: depends_on, volumes, networks) and prints the normalised project, or the
// first error with exit 1. The suite runs it on docker-compose.yml, whose images cannot be pulled here.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/compose-spec/compose-go/v2/cli"
)

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}

func main() {
	if len(os.Args) < 2 {
		fail(fmt.Errorf("usage: composecheck COMPOSE_FILE..."))
	}
	options, err := cli.NewProjectOptions(os.Args[1:], cli.WithName("lagwatch"))
	if err != nil {
		fail(err)
	}
	project, err := options.LoadProject(context.Background())
	if err != nil {
		fail(err)
	}
	out, err := project.MarshalYAML()
	if err != nil {
		fail(err)
	}
	os.Stdout.Write(out)
}
