package sqlite

// Operator accounts for corrections and payouts.
const (
	PayoutsID       = "bank:payouts"         // money paid out to providers
	CodePayouts     = "payouts"              //
	AdjustmentsID   = "operator:adjustments" // goodwill credits and write-offs the operator absorbs
	CodeAdjustments = "adjustments"          //
)
