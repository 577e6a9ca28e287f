# ruff: noqa: E501  (verbatim transcriptions of public data: lines are as long as the items)
# Code sources: every item is `code` (source-level mapping, ../PROVENANCE.md).
CONALA = r'''
How to convert a list of multiple integers into a single integer?
how to convert a datetime string back to datetime object?
Averaging the values in a dictionary based on the key
zip lists in python
Prepend the same string to all items in a list
regex for repeating words in a string in Python
Normalizing a pandas DataFrame by row
swap values in a tuple/list inside a list in python?
Find next sibling element in Python Selenium?
Python splitting string by parentheses
What's the most memory efficient way to generate the combinations of a set in python?
Add Multiple Columns to Pandas Dataframe from Function
BeautifulSoup - search by text inside a tag
How do I turn a python datetime into a string, with readable format date?
Parse string to int when string contains a number + extra characters
adding new key inside a new key and assigning value in python dictionary
Transforming the string representation of a dictionary into a real dictionary
How to select element with Selenium Python xpath
Find matching rows in 2 dimensional numpy array
How to delete a record in Django models?
python convert list to dictionary
how to set global const variables in python
How to use regular expression to separate numbers and characters in strings like "30M1000N20M"
Extracting words from a string, removing punctuation and returning a list with separated words in Python
Convert string into datetime.time object
Python Requests getting SSLerror
removing data from a numpy.array
Map two lists into a dictionary in Python
Get the string within brackets in Python
Python server "Only one usage of each socket address is normally permitted"
How do i add two lists' elements into one list?
Python - Converting Hex to INT/CHAR
How to sort in decreasing value first then increasing in second value
Repeating elements in list comprehension
Doc, rtf and txt reader in python
How do you divide each element in a list by an int?
python: dots in the name of variable in a format string
How to replace the white space in a string in a pandas dataframe?
Python: most efficient way to convert date to datetime
Tuple to string
get file creation & modification date/times in
How to Close a program using python?
Is there a generator version of `string.split()` in Python?
Using Python String Formatting with Lists
How to use regex with optional characters in python?
How to remove parentheses and all data within using Pandas/Python?
Python: filter list of list with another list
Generate all possible strings from a list of token
python how to search an item in a nested list
'''
COCLR = r'''
how to open a text file on python
how to get count of rows in excel sheet python
python list delete elelment contain character
remove all non numeric characters python
python recieve push notifications
python git get latest commit
can you remove letters in strings in python
how to make word into letter by letter in python
python src folder convention
how to navigate folders in python
feed python variable for jinja template
check whether a file exists on s3 full path using python
'''
NL2BASH = r'''
(BSD specific) Display process information twice, waiting one second between each, filtering out the header line.
(GNU specific) Calculte and output amount of CPU load taken by all processes belonging to user 'abc'.
(GNU specific) Display cumulative CPU usage over 5 seconds.
(GNU specific) Display information about number of processes in various states.
(GNU specific) Monitor all processes whose command includes 'java'.
(GNU specific) Use 'top' to monitor process 'a.out', printing information 100 times.
(Linux specific) Copy loadable kernel module "mymodule.ko" to the drivers in modules directory matchig current kernel.
(Linux specific) Display all lines containing "IP_MROUTE" in the current kernel's compile-time config file.
(Linux specific) Search for command "tail" in the maps of the process with PID 2671
(Linux-specific) Page through extended USB information.
(Mac OSX specific) Show the internal memory size used by process whose PID is specified by variable PID.
A no-op on filename with sed
Abort the shell or script on the first failed command
Add "A new line" on top of each *.py files under current directory
Add "execute" to the permissions of all directories in the home directory tree
Add "new." to the beginning of the name of "original.filename", renaming it to "new.original.filename".
Add "prefix" to every non-blank line in "file.txt"
Add '.avi' extension to all files/directories with '.mkv' extension under '/volume1/uploads' directory tree
Add a cron job to existing list, without removing existing ones, ro tun "scripty.sh" at 2:01 am, 3rd day of april (4th month), if that day happens to be a friday (5th day of the week starting with sunday=0).
Add a date time stamp to every line of output in "ping google.com"
Add a line number to every line in "infile"
Add a number prefix followed by ')' to each line in "$string"
Add content of "filename" to the existing cron jobs of user "user", without removing the previously existing cron jobs.
Add directory "$HOME/Pictures" to the directory stack
Add executable permission to "pretty-print"
Add execute permission to all files ending in ".sh"
Add group write permission to all files in the current directory
Add line numbers to each non-blank line in "file" starting with number 1000001
Add newline before all 2nd and consequent occurrences of '3d3d' in file 'temp' and write each line from the output to files with prefix 'temp' and numeric suffixes
Add prefix "prefix_" to all ".jpg" files in the current directory
Add read and execute permission to every directory under the current directory
Add the .abc suffix to the names of all *.txt regular files in the current directory tree
Add variable TESTVAR with value "bbb" to a temporary environment, and search for TESTVAR in all variables and their values in the resulting environment.
Adjust the timestamp of 'filename' by subtracting 2 hours from it.
Alias "cd $(history -p !!:1)" as "cd-"
Allocate a pseudo-terminal and execute "screen -r" on host "example.com"
Allow all users to execute "myscript.sh"
Allow ssh from 127.0.0.1 on port "someport" through "proxy.host" to "host.in.the.remote.net" on port 22
Always answer "no" to any prompt from "<command>"
Answer "y" to all prompts of "rm -rf foo"
Append " | COUNTRY" to every line in "file"
Append ".txt" to all filenames in the current directory tree
Append "deb blah ... blah" to "/etc/apt/sources.list" as root
Append *.java files from the current directory tree to tar archive `myfile.tar'
Append all *.mp3 files modified within the last 180 days to tar archive `music.tar'
Append all regular files modified in the last 24 hours to the "$archive.tar" tar archive
Append history lines from this session to the history list
Append the current date in '%Y%m%d_%H%M' format with the basename of $0 and save it to variable 'LOGNAME'
Append the date and command ran to "/tmp/trace" after every command
Apply script rename.sh to all files from the current directory tree whose names match regular expression "xxx-xxx_[a-zA-Z]+_[0-9]+_[0-9]+\.jpg$"
Archive "./dir" to "user@host:/path" via ssh on port 2222 and display progress
Archive "/home/user1" to "wobgalaxy02:/home/user1" excluding hidden files
Archive "/path/to/copy" on host "remote" as user "user" to "/local/path" via ssh on port "$portNumber"
Archive "/source/backup" to "/destination" with compression during transfer
Archive "blanktest/" to "test/" deleting any files in the destination not found in the source
Archive "path/to/working/copy" to "path/to/export" excluding files or directories named ".svn"
Archive "src" to "dst" without overwriting existing files in "dst"
'''
