-- Pandoc filter for the man pages. A table becomes a definition list (first cell the term, each
-- other cell a paragraph headed by its column's name). Terminals are narrower than the tables
-- of docs/, and groff cannot fold long cells of a table (lintian: groff-message).
function Table(tbl)
  local s = pandoc.utils.to_simple_table(tbl)
  local items = {}
  for _, row in ipairs(s.rows) do
    local defs = {}
    for j = 2, #row do
      local para = {}
      local head = pandoc.utils.stringify(s.headers[j] or {})
      if head ~= "" then
        para = {pandoc.Emph(head .. ":"), pandoc.Space()}
      end
      for _, x in ipairs(pandoc.utils.blocks_to_inlines(row[j])) do
        table.insert(para, x)
      end
      table.insert(defs, pandoc.Para(para))
    end
    table.insert(items, {pandoc.utils.blocks_to_inlines(row[1]), {defs}})
  end
  return pandoc.DefinitionList(items)
end

-- A long comma-separated code string (the algorithm lists) may break after each comma.
function Code(c)
  if #c.text > 50 and c.text:find(",") then
    local roff = c.text:gsub("\\", "\\e"):gsub("%-", "\\-"):gsub(",", ",\\:")
    return pandoc.RawInline("man", "\\f[CR]" .. roff .. "\\f[R]")
  end
end
