package markdown

// maxNesting bounds the block quotes and list markers that open one line. goldmark's block
// parser takes time that grows with the square of that count (a line of 64 KiB of ">" takes
// seconds, one of 1 MiB minutes), and no postmortem nests a tenth as deep.
const maxNesting = 100

// maxIndent bounds the columns that white space, block quotes and list markers take at the
// start of a line. Lists also nest across lines, one indented under the other, and goldmark
// gives every line time that grows with the lists open times its indentation: 1 MiB of lines
// each indented two columns more than the last took 3.4 s. Bounding the indentation bounds the
// lists open (each takes two columns at least), and leaves room for twice maxNesting.
const maxIndent = 2 * maxNesting

// deepNesting is the offset of the first line that opens more than maxNesting block quotes
// and list items (wide false), or whose white space, block quotes and list markers take more
// than maxIndent columns (wide true), or -1.
func deepNesting(src []byte) (offset int, wide bool) {
	for start := 0; start < len(src); {
		depth := 0
		i := start
		tabs := 0 // the columns tabs add beyond their byte
	line:
		for i < len(src) {
			switch c := src[i]; {
			case c == ' ':
				i++
			case c == '\t':
				tabs += 3 - (i-start+tabs)%4 // to the next tab stop, every 4 columns
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
				return start, false
			}
		}
		// A line of white space only opens nothing, however wide.
		if i < len(src) && src[i] != '\n' && i-start+tabs > maxIndent {
			return start, true
		}
		for i < len(src) && src[i] != '\n' {
			i++
		}
		start = i + 1
	}
	return -1, false
}
