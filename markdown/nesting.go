package markdown

// maxNesting bounds the block quotes and list markers that open one line. goldmark's block
// parser takes time that grows with the square of that count (a line of 64 KiB of ">" takes
// seconds, one of 1 MiB minutes), and no postmortem nests a tenth as deep.
const maxNesting = 100

// deepNesting is the offset of the first line that opens more than maxNesting block quotes
// and list items, or -1.
func deepNesting(src []byte) int {
	for start := 0; start < len(src); {
		depth := 0
		i := start
	line:
		for i < len(src) {
			switch c := src[i]; {
			case c == ' ' || c == '\t':
				i++
			case c == '>':
				depth++
				i++
			case c == '-' || c == '*' || c == '+':
				if i+1 < len(src) && src[i+1] != ' ' && src[i+1] != '\t' && src[i+1] != '\n' {
					break line
				}
				depth++
				i++
			case c >= '0' && c <= '9':
				j := i
				for j < len(src) && j-i < 9 && src[j] >= '0' && src[j] <= '9' {
					j++
				}
				if j >= len(src) || (src[j] != '.' && src[j] != ')') ||
					j+1 < len(src) && src[j+1] != ' ' && src[j+1] != '\t' && src[j+1] != '\n' {
					break line
				}
				depth++
				i = j + 1
			default:
				break line
			}
			if depth > maxNesting {
				return start
			}
		}
		for i < len(src) && src[i] != '\n' {
			i++
		}
		start = i + 1
	}
	return -1
}
