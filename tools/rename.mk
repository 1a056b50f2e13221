# `make rename NAME=newname [IMAGE=image]`: a fork renames the project in one step
# (tools/rename.py). Included by the Makefile; the rename deletes this file, its tool and test.

.PHONY: rename

# IMAGE is passed on only when given on the command line; else the tool derives it from NAME.
# Then, in the environment (made by the renamed Makefile if need be), ruff puts the imports
# back in order (the package's name sorts elsewhere now) and formats the lines it changed.
rename: ## rename the project for a fork: make rename NAME=newname [IMAGE=image]
	@test -n "$(NAME)" || { echo "make rename: give the new name: make rename NAME=newname" >&2; \
		exit 2; }
	$(PYTHON) tools/rename.py $(NAME) $(if $(filter command line,$(origin IMAGE)),$(IMAGE))
	$(MAKE) install
	$(BIN)/ruff check --quiet --select I --fix .
	$(BIN)/ruff format --quiet .
