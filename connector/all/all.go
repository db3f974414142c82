// Package all registers every built-in connector; cmd/onus imports it.
// A new connector adds its package and one line here.
package all

import (
	_ "github.com/onus-sec/onus/connector/bamboohr"
	_ "github.com/onus-sec/onus/connector/checkr"
	_ "github.com/onus-sec/onus/connector/cisakev"
	_ "github.com/onus-sec/onus/connector/crowdstrike"
	_ "github.com/onus-sec/onus/connector/fleet"
	_ "github.com/onus-sec/onus/connector/github"
	_ "github.com/onus-sec/onus/connector/googleworkspace"
	_ "github.com/onus-sec/onus/connector/httpjson"
	_ "github.com/onus-sec/onus/connector/intune"
	_ "github.com/onus-sec/onus/connector/jamf"
	_ "github.com/onus-sec/onus/connector/okta"
)
