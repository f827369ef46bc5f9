package core

import (
	"strings"
	"time"
)

// Role is what an API token may do.
type Role string

// Roles.
const (
	RoleOperator Role = "operator" // 平台运营方: sees and does everything
	RoleProvider Role = "provider" // 算力提供方: sees its own centers
	RoleTenant   Role = "tenant"   // 用户企业: sees its own jobs, usage and wallet
)

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r == RoleOperator || r == RoleProvider || r == RoleTenant }

// Org is an organization: the operator, a provider or a tenant company.
type Org struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	CreditCode string    `json:"credit_code"` // 统一社会信用代码
	Role       Role      `json:"role"`
	CreatedAt  time.Time `json:"created_at"`
}

// Principal is the authenticated caller of a request.
type Principal struct {
	OrgID string
	Role  Role
}

// creditCodeChars is the alphabet of GB 32100-2015; I, O, Z, S and V are
// left out so they cannot be mistaken for digits.
const creditCodeChars = "0123456789ABCDEFGHJKLMNPQRTUWXY"

var creditCodeWeights = [17]int{1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28}

// CreditCodeCheckChar returns the check character (18th) for the first 17
// characters of a unified social credit code, per GB 32100-2015.
func CreditCodeCheckChar(first17 string) (byte, bool) {
	if len(first17) != 17 {
		return 0, false
	}
	sum := 0
	for i := 0; i < 17; i++ {
		v := strings.IndexByte(creditCodeChars, first17[i])
		if v < 0 {
			return 0, false
		}
		sum += v * creditCodeWeights[i]
	}
	c := (31 - sum%31) % 31
	return creditCodeChars[c], true
}

// ValidateCreditCode checks a unified social credit code (统一社会信用代码):
// 18 characters from the GB 32100 alphabet, a 6-digit administrative
// division code in positions 3–8, and the check character.
func ValidateCreditCode(code string) error {
	if len(code) != 18 {
		return FieldErrorf("credit_code", "must be 18 characters, got %d", len(code))
	}
	for i := 0; i < 18; i++ {
		if strings.IndexByte(creditCodeChars, code[i]) < 0 {
			return FieldErrorf("credit_code", "character %d (%q) is not allowed", i+1, code[i])
		}
	}
	for i := 2; i < 8; i++ {
		if code[i] < '0' || code[i] > '9' {
			return FieldErrorf("credit_code", "positions 3-8 must be an administrative division code")
		}
	}
	want, _ := CreditCodeCheckChar(code[:17])
	if code[17] != want {
		return FieldErrorf("credit_code", "check character is %q, want %q", code[17], want)
	}
	return nil
}
