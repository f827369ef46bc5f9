package cli

import "github.com/suanli/suanli/internal/client"

func clientFilter(state, center string, limit, offset int) client.JobsFilter {
	return client.JobsFilter{State: state, Center: center, Limit: limit, Offset: offset}
}
